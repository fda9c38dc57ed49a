/**
 * MobileNetV3's hard-swish, x * relu6(x + 3) / 6, and hard-sigmoid, relu6(x + 3) / 6, as one
 * kernel each way on the wasm and cpu backends. Built from primitive ops, each is four
 * full-size kernels forward and about eight backward (relu6's mask alone is a LessEqual, a Step,
 * a Cast and two Multiplys); MobileNetV3-Small runs 28 of them per step. Here each is one pass
 * forward and one backward, with the gradient tfjs' autodiff gives the op form:
 *   hard-sigmoid'(x) = 1/6 for -3 < x <= 3, else 0
 *   hard-swish'(x)   = hard-sigmoid(x) + x * hard-sigmoid'(x)
 *                    = 0 for x <= -3, (2x + 3) / 6 for -3 < x <= 3, 1 above.
 * Other backends keep the op form (`hardActivationKernel` says which applies). On wasm the
 * loops run as SIMD code (simd/wat.ts) where it built, the same float32 arithmetic.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { simdKernels } from './simd/simd-kernels.js';

export type HardKind = 'hard-swish' | 'hard-sigmoid';

const FORWARD: Record<HardKind, string> = { 'hard-swish': 'HardSwishProject', 'hard-sigmoid': 'HardSigmoidProject' };
const BACKWARD: Record<HardKind, string> = { 'hard-swish': 'HardSwishGradProject', 'hard-sigmoid': 'HardSigmoidGradProject' };

function forwardInto(kind: HardKind, x: Float32Array, y: Float32Array): void {
  const n = x.length;
  if (kind === 'hard-sigmoid') {
    for (let i = 0; i < n; i++) {
      const u = Math.fround(x[i]! + 3);
      y[i] = (u <= 0 ? 0 : u >= 6 ? 6 : u) / 6;
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    const u = Math.fround(v + 3);
    y[i] = v * Math.fround((u <= 0 ? 0 : u >= 6 ? 6 : u) / 6);
  }
}

function backwardInto(kind: HardKind, dy: Float32Array, x: Float32Array, dx: Float32Array): void {
  const n = x.length;
  if (kind === 'hard-sigmoid') {
    for (let i = 0; i < n; i++) {
      const u = Math.fround(x[i]! + 3);
      dx[i] = u > 0 && u <= 6 ? dy[i]! / 6 : 0;
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const v = x[i]!;
    const u = Math.fround(v + 3);
    const g = dy[i]!;
    if (u <= 0) dx[i] = 0;
    else if (u > 6) dx[i] = g;
    // d/dx of x * (u / 6): u / 6 + x / 6, each product and quotient rounded as the op form's.
    else dx[i] = Math.fround(g * Math.fround(u / 6)) + Math.fround(Math.fround(g * v) / 6);
  }
}

type KernelArgs = Parameters<tf.KernelConfig['kernelFunc']>[0];

function only(inputs: tf.NamedTensorInfoMap, name: string, kernel: string): tf.TensorInfo {
  const info = inputs[name];
  if (info === undefined) throw new Error(`${kernel}: missing input '${name}'`);
  if (info.dtype !== 'float32') throw new Error(`${kernel} expects float32, got ${info.dtype}`);
  return info;
}

interface CpuLike {
  data: { get(dataId: object): { values: unknown } };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
}

function cpuValues(backend: CpuLike, info: tf.TensorInfo): Float32Array {
  const values = backend.data.get(info.dataId).values;
  if (!(values instanceof Float32Array)) throw new Error('expected float32 values on the cpu backend');
  return values;
}

function wasmView(backend: BackendWasm, info: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(info) as Float32Array;
}

function configs(kind: HardKind): tf.KernelConfig[] {
  const fwd = FORWARD[kind];
  const bwd = BACKWARD[kind];
  return [
    {
      kernelName: fwd,
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend }: KernelArgs) => {
        const b = backend as BackendWasm;
        const x = only(inputs, 'x', fwd);
        const out = b.makeOutput(x.shape, 'float32');
        const xs = wasmView(b, x);
        const ys = wasmView(b, out);
        // Whole vectors in SIMD, the last 0-3 values in JS (the same arithmetic).
        const simd = simdKernels(b);
        const vectors = simd === undefined ? 0 : xs.length & ~3;
        if (simd !== undefined) (kind === 'hard-swish' ? simd.hardSwish : simd.hardSigmoid)(xs.byteOffset, ys.byteOffset, vectors);
        forwardInto(kind, xs.subarray(vectors), ys.subarray(vectors));
        return out;
      },
    },
    {
      kernelName: bwd,
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend }: KernelArgs) => {
        const b = backend as BackendWasm;
        const dy = only(inputs, 'dy', bwd);
        const x = only(inputs, 'x', bwd);
        const out = b.makeOutput(x.shape, 'float32');
        const dys = wasmView(b, dy);
        const xs = wasmView(b, x);
        const dxs = wasmView(b, out);
        const simd = simdKernels(b);
        const vectors = simd === undefined ? 0 : xs.length & ~3;
        if (simd !== undefined) (kind === 'hard-swish' ? simd.hardSwishGrad : simd.hardSigmoidGrad)(dys.byteOffset, xs.byteOffset, dxs.byteOffset, vectors);
        backwardInto(kind, dys.subarray(vectors), xs.subarray(vectors), dxs.subarray(vectors));
        return out;
      },
    },
    {
      kernelName: fwd,
      backendName: 'cpu',
      kernelFunc: ({ inputs, backend }: KernelArgs) => {
        const b = backend as unknown as CpuLike;
        const x = only(inputs, 'x', fwd);
        const y = new Float32Array(tf.util.sizeFromShape(x.shape));
        forwardInto(kind, cpuValues(b, x), y);
        return b.makeTensorInfo(x.shape, 'float32', y);
      },
    },
    {
      kernelName: bwd,
      backendName: 'cpu',
      kernelFunc: ({ inputs, backend }: KernelArgs) => {
        const b = backend as unknown as CpuLike;
        const dy = only(inputs, 'dy', bwd);
        const x = only(inputs, 'x', bwd);
        const dx = new Float32Array(tf.util.sizeFromShape(x.shape));
        backwardInto(kind, cpuValues(b, dy), cpuValues(b, x), dx);
        return b.makeTensorInfo(x.shape, 'float32', dx);
      },
    },
  ];
}

let registered = false;

/** Registers both activations' kernels (wasm and cpu) and their gradients, once. */
export function registerHardActivations(): void {
  if (registered) return;
  registered = true;
  for (const kind of ['hard-swish', 'hard-sigmoid'] as const) {
    for (const config of configs(kind)) if (tf.getKernel(config.kernelName, config.backendName) === undefined) tf.registerKernel(config);
    tf.registerGradient({
      kernelName: FORWARD[kind],
      inputsToSave: ['x'],
      gradFunc: (dy, saved) => {
        const g = Array.isArray(dy) ? dy[0]! : dy;
        const [x] = saved as [tf.Tensor];
        return { x: () => tf.engine().runKernel(BACKWARD[kind], { dy: g, x }) as tf.Tensor };
      },
    });
  }
}

/** Whether the fused kernels serve `x` on the current backend. */
export function hardActivationKernel(x: tf.Tensor): boolean {
  const backend = tf.getBackend();
  return x.dtype === 'float32' && (backend === 'wasm' || backend === 'cpu');
}

/** The fused activation (call only where `hardActivationKernel` is true). */
export function hardActivation(kind: HardKind, x: tf.Tensor): tf.Tensor {
  registerHardActivations();
  return tf.engine().runKernel(FORWARD[kind], { x }) as tf.Tensor;
}
