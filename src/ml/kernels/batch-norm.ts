/**
 * FusedBatchNorm (the forward pass) on wasm for the common case: float32, per-channel (1-D)
 * mean, variance, scale and offset over the last axis (SIMD code, simd/wat.ts, when the channels
 * come in fours). Each channel's affine map is computed
 * once, y = x * a[c] + b[c] with a = scale / sqrt(variance + eps) and b = offset - mean * a, then
 * one pass over x. The backend's kernel recomputes the channel's index and factors per element;
 * on MobileNetV3-Small@96 (34 batch-norm layers, batch 32) it was 6-7% of a training step. Any
 * other case goes to the backend's kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { channelAffine, simdKernels } from './simd/simd-kernels.js';
import { WASM, asWasmBackend, heapF32, input, runKernel } from './wasm-kernel-context.js';

function fusedBatchNorm({ inputs, backend: anyBackend, attrs }: Parameters<tf.KernelConfig['kernelFunc']>[0]): tf.TensorInfo {
  const kernel = 'FusedBatchNorm';
  const backend = asWasmBackend(anyBackend);
  const x = input(inputs, 'x', kernel);
  const mean = input(inputs, 'mean', kernel);
  const variance = input(inputs, 'variance', kernel);
  const scale = inputs['scale'];
  const offset = inputs['offset'];
  const c = x.shape[x.shape.length - 1] ?? 0;
  const perChannel = (t: tf.TensorInfo | undefined): boolean => t === undefined || (t.dtype === 'float32' && t.shape.length === 1 && t.shape[0] === c);
  if (x.dtype !== 'float32' || c === 0 || ![mean, variance, scale, offset].every(perChannel)) return runKernel(kernel, backend, inputs, attrs);
  const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
  const outInfo = backend.makeOutput(x.shape, 'float32');
  // Views after the allocation (a heap growth would detach earlier ones).
  const xs = heapF32(backend, x);
  const out = heapF32(backend, outInfo);
  const m = heapF32(backend, mean);
  const v = heapF32(backend, variance);
  const s = scale === undefined ? undefined : heapF32(backend, scale);
  const o = offset === undefined ? undefined : heapF32(backend, offset);
  const a = new Float32Array(c);
  const b = new Float32Array(c);
  for (let j = 0; j < c; j++) {
    // As the backend: the scale times 1/sqrt(variance + eps), in float32.
    const factor = Math.fround(Math.fround(s === undefined ? 1 : s[j]!) / Math.fround(Math.sqrt(Math.fround(v[j]! + varianceEpsilon))));
    a[j] = factor;
    b[j] = Math.fround((o === undefined ? 0 : o[j]!) - m[j]! * factor);
  }
  const total = tf.util.sizeFromShape(x.shape);
  const simd = c % 4 === 0 ? simdKernels(backend) : undefined;
  if (simd !== undefined) {
    // Two roundings (a multiply, then an add), as the backend's kernel.
    channelAffine(backend, simd, x, outInfo, a, b);
    return outInfo;
  }
  // Four rows per pass: with few channels (16 on MobileNetV3's first layers) the loop's own
  // overhead per row outweighs its work.
  const rows = total / c;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    const b0 = r * c;
    const b1 = b0 + c;
    const b2 = b1 + c;
    const b3 = b2 + c;
    for (let j = 0; j < c; j++) {
      const aj = a[j]!;
      const bj = b[j]!;
      out[b0 + j] = xs[b0 + j]! * aj + bj;
      out[b1 + j] = xs[b1 + j]! * aj + bj;
      out[b2 + j] = xs[b2 + j]! * aj + bj;
      out[b3 + j] = xs[b3 + j]! * aj + bj;
    }
  }
  for (let base = r * c; base < total; base += c) {
    for (let j = 0; j < c; j++) out[base + j] = xs[base + j]! * a[j]! + b[j]!;
  }
  return outInfo;
}

export const fusedBatchNormConfig: tf.KernelConfig = {
  kernelName: 'FusedBatchNorm',
  backendName: WASM,
  kernelFunc: fusedBatchNorm,
};
