/**
 * The elementwise work around every biased ReLU layer of a training step. Under gradients tfjs
 * does not fuse a convolution's or dense layer's bias and ReLU, so each such layer runs
 *   forward:  Add(y, bias) broadcast over [..., C], then Relu;
 *   backward: Multiply(dy, Cast(Step(x))), four full-size passes for ReLU's mask.
 * The wasm backend's Add broadcasts with a scalar index loop (small-cnn's first layer: 1.3 ms a
 * step for [64,26,26,32] + [32]). Here, on wasm with SIMD kernels:
 * - `Add` of a float32 tensor [..., C] and a bias [C] (C in fours) is one SIMD pass (`addRows`);
 *   every other Add goes to the backend's own kernel;
 * - ReLU's gradient is one pass (`ReluGradProject`, simd/wat.ts `reluGrad`) with tfjs's own
 *   arithmetic: dx = dy * step(x), step = 1 above 0, NaN for NaN, else 0, so the values are the
 *   same bits as the four-pass form. Other backends keep tfjs's gradient.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { simdKernels } from './simd/simd-kernels.js';
import { WASM, asWasmBackend, heapF32, input, runKernel } from './wasm-kernel-context.js';

export const RELU_GRAD_KERNEL = 'ReluGradProject';

type KernelArgs = Parameters<tf.KernelConfig['kernelFunc']>[0];

/** [rows, c] when `a` is [..., c] and `b` is [c] (c in fours, a of rank 2 or more); else undefined. */
function biasRows(a: tf.TensorInfo, b: tf.TensorInfo): [number, number] | undefined {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || b.shape.length !== 1 || a.shape.length < 2) return undefined;
  const c = b.shape[0]!;
  if (c % 4 !== 0 || c === 0 || a.shape[a.shape.length - 1] !== c) return undefined;
  return [tf.util.sizeFromShape(a.shape) / c, c];
}

function add({ inputs, backend: anyBackend, attrs }: KernelArgs): tf.TensorInfo {
  const backend: BackendWasm = asWasmBackend(anyBackend);
  const a = input(inputs, 'a', 'Add');
  const b = input(inputs, 'b', 'Add');
  const simd = simdKernels(backend);
  const direct = biasRows(a, b);
  const [x, bias, rows] = direct !== undefined ? [a, b, direct] : [b, a, biasRows(b, a)];
  if (simd === undefined || rows === undefined) return runKernel('Add', backend, inputs, attrs);
  const out = backend.makeOutput(x.shape, 'float32');
  simd.addRows(heapF32(backend, x).byteOffset, heapF32(backend, bias).byteOffset, heapF32(backend, out).byteOffset, rows[0], rows[1]);
  return out;
}

export const biasAddConfig: tf.KernelConfig = { kernelName: 'Add', backendName: WASM, kernelFunc: add };

function reluGradWasm({ inputs, backend: anyBackend }: KernelArgs): tf.TensorInfo {
  const backend: BackendWasm = asWasmBackend(anyBackend);
  const dyInfo = input(inputs, 'dy', RELU_GRAD_KERNEL);
  const xInfo = input(inputs, 'x', RELU_GRAD_KERNEL);
  const out = backend.makeOutput(xInfo.shape, 'float32');
  const dy = heapF32(backend, dyInfo);
  const x = heapF32(backend, xInfo);
  const dx = heapF32(backend, out);
  const simd = simdKernels(backend);
  const vectors = simd === undefined ? 0 : x.length & ~3;
  if (simd !== undefined) simd.reluGrad(dy.byteOffset, x.byteOffset, dx.byteOffset, vectors);
  for (let i = vectors; i < x.length; i++) {
    const v = x[i]!;
    dx[i] = dy[i]! * (v > 0 ? 1 : v !== v ? Number.NaN : 0);
  }
  return out;
}

export const reluGradWasmConfig: tf.KernelConfig = { kernelName: RELU_GRAD_KERNEL, backendName: WASM, kernelFunc: reluGradWasm };

export const reluGradConfig: tf.GradConfig = {
  kernelName: 'Relu',
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const g = Array.isArray(dy) ? dy[0]! : dy;
    const [x] = saved as [tf.Tensor];
    const fused = g.dtype === 'float32' && x.dtype === 'float32' && tf.getBackend() === WASM && tf.getKernel(RELU_GRAD_KERNEL, WASM) !== undefined;
    return {
      x: () => (fused ? (tf.engine().runKernel(RELU_GRAD_KERNEL, { dy: g, x }) as tf.Tensor) : tf.mul(g, tf.cast(tf.step(x), 'float32'))),
    };
  },
};

/** ReLU's one-pass gradient (its wasm kernel and the gradient that uses it), once. */
export function installReluGradient(): void {
  tf.registerGradient(reluGradConfig);
  if (tf.getKernel(RELU_GRAD_KERNEL, WASM) === undefined) tf.registerKernel(reluGradWasmConfig);
}
