/**
 * Batch-norm moments in one pass each way on wasm. tf.moments(x, [0, 1, 2]) is a Mean, a Sub, a Square
 * and another Mean forward, and their gradients backward (two Mean gradients, two Multiplys,
 * a Neg, a Sum and the Adds that join them): about ten full-size passes for each batch-norm
 * layer in training. Here, for x [..., C] reduced over every axis but the last:
 *   forward  (`MomentsProject`): one SIMD pass summing x and x * x per channel in float64, so
 *            mean = sum / N and variance = sumsq / N - mean^2 (float64 keeps the difference
 *            accurate for float32 data), written as float32;
 *   backward (`MomentsGradProject`): dx = dmean / N + dvariance * 2 (x - mean) / N, one affine
 *            map per channel, one SIMD pass.
 * `fusedMoments` uses it on wasm with the SIMD kernels and channels in fours, float32; anywhere
 * else it is tf.moments itself.
 */
import * as tf from '@tensorflow/tfjs';
import { channelAffine, simdKernels } from './simd/simd-kernels.js';
import { WASM, asWasmBackend, dispose, heapF32, input } from './wasm-kernel-context.js';

export const MOMENTS_KERNEL = 'MomentsProject';
export const MOMENTS_GRAD_KERNEL = 'MomentsGradProject';
export const MOVING_MOMENTS_KERNEL = 'MovingMomentsProject';

type KernelArgs = Parameters<tf.KernelConfig['kernelFunc']>[0];

function channelsOf(x: tf.TensorInfo): { c: number; rows: number } {
  const c = x.shape[x.shape.length - 1]!;
  return { c, rows: tf.util.sizeFromShape(x.shape) / c };
}

function momentsWasm({ inputs, backend: anyBackend }: KernelArgs): tf.TensorInfo[] {
  const backend = asWasmBackend(anyBackend);
  const x = input(inputs, 'x', MOMENTS_KERNEL);
  const simd = simdKernels(backend);
  const { c, rows } = channelsOf(x);
  if (simd === undefined || c % 4 !== 0) throw new Error(`${MOMENTS_KERNEL} needs the SIMD kernels and channels in fours, got ${c}`);
  const mean = backend.makeOutput([c], 'float32');
  const variance = backend.makeOutput([c], 'float32');
  // float64 sums of x and of x * x: 4 * c floats of scratch.
  const scratchInfo = backend.makeOutput([4 * c], 'float32');
  const scratch = heapF32(backend, scratchInfo);
  scratch.fill(0);
  const at = scratch.byteOffset;
  const xAt = heapF32(backend, x).byteOffset;
  simd.sumAndSquaresInto(xAt, at, at + 8 * c, rows, c);
  const sums = new Float64Array(scratch.buffer, at, 2 * c);
  const m = heapF32(backend, mean);
  const v = heapF32(backend, variance);
  for (let j = 0; j < c; j++) {
    const mu = sums[j]! / rows;
    m[j] = mu;
    v[j] = Math.max(0, sums[c + j]! / rows - mu * mu);
  }
  dispose(backend, scratchInfo);
  return [mean, variance];
}

function momentsGradWasm({ inputs, backend: anyBackend }: KernelArgs): tf.TensorInfo {
  const backend = asWasmBackend(anyBackend);
  const x = input(inputs, 'x', MOMENTS_GRAD_KERNEL);
  const meanInfo = input(inputs, 'mean', MOMENTS_GRAD_KERNEL);
  const dMeanInfo = input(inputs, 'dmean', MOMENTS_GRAD_KERNEL);
  const dVarianceInfo = input(inputs, 'dvariance', MOMENTS_GRAD_KERNEL);
  const simd = simdKernels(backend);
  const { c, rows } = channelsOf(x);
  if (simd === undefined || c % 4 !== 0) throw new Error(`${MOMENTS_GRAD_KERNEL} needs the SIMD kernels and channels in fours, got ${c}`);
  const dx = backend.makeOutput(x.shape, 'float32');
  // dx = x * k + b per channel: k = 2 dvariance / N, b = dmean / N - k * mean.
  const mean = heapF32(backend, meanInfo);
  const dMean = heapF32(backend, dMeanInfo);
  const dVariance = heapF32(backend, dVarianceInfo);
  const k = new Float32Array(c);
  const b = new Float32Array(c);
  for (let j = 0; j < c; j++) {
    const kj = (2 * dVariance[j]!) / rows;
    k[j] = kj;
    b[j] = dMean[j]! / rows - kj * mean[j]!;
  }
  channelAffine(backend, simd, x, dx, k, b);
  return dx;
}

/**
 * Both moving averages of a batch-norm layer as tfjs-layers updates them, v - (v - value) *
 * (1 - momentum) in float32 (the same three roundings): one kernel where the tf ops were six
 * (a Sub, a Multiply and a Sub for each), per layer and step.
 */
function movingMomentsWasm({ inputs, backend: anyBackend, attrs }: KernelArgs): tf.TensorInfo[] {
  const backend = asWasmBackend(anyBackend);
  const names = ['movingMean', 'movingVariance', 'mean', 'variance'] as const;
  const infos = names.map((name) => input(inputs, name, MOVING_MOMENTS_KERNEL));
  const c = infos[0]!.shape[0] ?? 0;
  for (const [i, info] of infos.entries()) {
    if (info.dtype !== 'float32' || info.shape.length !== 1 || info.shape[0] !== c) {
      throw new Error(`${MOVING_MOMENTS_KERNEL}: ${names[i]} must be float32 of shape [${c}], got ${info.dtype} ${JSON.stringify(info.shape)}`);
    }
  }
  const outs = [backend.makeOutput([c], 'float32'), backend.makeOutput([c], 'float32')];
  const rate = Math.fround(1 - (attrs as unknown as { momentum: number }).momentum);
  for (let k = 0; k < 2; k++) {
    const current = heapF32(backend, infos[k]!);
    const value = heapF32(backend, infos[k + 2]!);
    const out = heapF32(backend, outs[k]!);
    for (let j = 0; j < c; j++) out[j] = current[j]! - Math.fround(Math.fround(current[j]! - value[j]!) * rate);
  }
  return outs;
}

const momentsGradient: tf.GradConfig = {
  kernelName: MOMENTS_KERNEL,
  inputsToSave: ['x'],
  outputsToSave: [true, false],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
    const [dMean, dVariance] = dy as tf.Tensor[];
    const [x, mean] = saved as [tf.Tensor, tf.Tensor];
    return { x: () => tf.engine().runKernel(MOMENTS_GRAD_KERNEL, { x, mean, dmean: dMean!, dvariance: dVariance! }) as tf.Tensor };
  },
};

let installed = false;

/** Registers the two wasm kernels and the gradient, once. */
export function installMoments(): void {
  if (installed) return;
  installed = true;
  if (tf.getKernel(MOMENTS_KERNEL, WASM) === undefined) tf.registerKernel({ kernelName: MOMENTS_KERNEL, backendName: WASM, kernelFunc: momentsWasm });
  if (tf.getKernel(MOMENTS_GRAD_KERNEL, WASM) === undefined) tf.registerKernel({ kernelName: MOMENTS_GRAD_KERNEL, backendName: WASM, kernelFunc: momentsGradWasm });
  if (tf.getKernel(MOVING_MOMENTS_KERNEL, WASM) === undefined) tf.registerKernel({ kernelName: MOVING_MOMENTS_KERNEL, backendName: WASM, kernelFunc: movingMomentsWasm });
  tf.registerGradient(momentsGradient);
}

/** Mean and variance of x over every axis but the last (what batch norm in training needs). */
export function fusedMoments(x: tf.Tensor): { mean: tf.Tensor; variance: tf.Tensor } {
  const c = x.shape[x.shape.length - 1]!;
  const fused = tf.getBackend() === WASM && x.dtype === 'float32' && c % 4 === 0 && x.rank >= 2
    && simdKernels(asWasmBackend(tf.backend())) !== undefined;
  if (!fused) return tf.moments(x, Array.from({ length: x.rank - 1 }, (_, i) => i));
  installMoments();
  const [mean, variance] = tf.engine().runKernel(MOMENTS_KERNEL, { x }) as tf.Tensor[];
  return { mean: mean!, variance: variance! };
}

/**
 * The moving mean and variance after a training batch, v - (v - value) * (1 - momentum) for
 * each: one kernel on wasm with 1-D float32 statistics, tf ops elsewhere (the same values).
 */
export function movingMoments(movingMean: tf.Tensor, movingVariance: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, momentum: number): [tf.Tensor, tf.Tensor] {
  const all = [movingMean, movingVariance, mean, variance];
  if (tf.getBackend() === WASM && all.every((t) => t.dtype === 'float32' && t.rank === 1 && t.size === movingMean.size)) {
    installMoments();
    const [m, v] = tf.engine().runKernel(MOVING_MOMENTS_KERNEL, { movingMean, movingVariance, mean, variance }, { momentum } as unknown as tf.NamedAttrMap) as tf.Tensor[];
    return [m!, v!];
  }
  return tf.tidy(() => [
    tf.sub(movingMean, tf.mul(tf.sub(movingMean, mean), 1 - momentum)),
    tf.sub(movingVariance, tf.mul(tf.sub(movingVariance, variance), 1 - momentum)),
  ]);
}
