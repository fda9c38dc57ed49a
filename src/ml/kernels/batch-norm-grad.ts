/**
 * Gradient of FusedBatchNorm without tiling. tfjs-core's gradient tiles 1/sqrt(variance + eps)
 * out to the activation's full shape once per batch-norm layer and runs about a dozen
 * full-size multiplies; on wasm that was 40% of a MobileNetV3-Small training step (Tile alone).
 *
 * Same semantics as tfjs-core 4.22's FusedBatchNorm_grad: mean and variance are inputs (in
 * tfjs-layers' training path they come from tf.moments, whose own gradient carries dmean and
 * dvariance back to x), with r = 1/sqrt(variance + eps), s = scale (1 when absent):
 *   dx       = dy * r * s
 *   dmean    = sum(-r * s * dy)                      = -r * s * sum(dy)
 *   dvariance= sum(-0.5 * r^3 * (x - mean) * dy * s) = -0.5 * r^3 * s * sum(dy * (x - mean))
 *   dscale   = sum(dy * (x - mean) * r)              = r * sum(dy * (x - mean))
 *   doffset  = sum(dy)
 * with sums over every axis but the channel axis when mean is 1-D. Per-channel factors are
 * pulled out of the sums, so the only full-size work is dx and two per-channel reductions.
 *
 * On wasm (float32, 1-D mean) all five come from one pass over dy and x on the heap
 * (`BatchNormGradProject`, float64 accumulators; SIMD code, simd/wat.ts, when the channels come
 * in fours). Elsewhere the same formulas run as tfjs ops
 * that broadcast the per-channel tensors. A mean with x's rank keeps tfjs's element-wise form.
 */
import * as tf from '@tensorflow/tfjs';
import { simdKernels } from './simd/simd-kernels.js';
import { WASM, asWasmBackend, dispose, heapF32, input, requireFloat32 } from './wasm-kernel-context.js';

export const BATCH_NORM_GRAD_KERNEL = 'BatchNormGradProject';
const FUSED_BATCH_NORM = 'FusedBatchNorm';

interface BatchNormGradAttrs {
  varianceEpsilon: number;
}

/** 1/sqrt(variance + eps) as tfjs computes it: a float32 Rsqrt of a float32 Add. */
export function rsqrtAsTfjs(variance: number, epsilon: number): number {
  return Math.fround(1 / Math.sqrt(Math.fround(variance + epsilon)));
}

/** One pass: dx = dy*r*s, and per-channel sum(dy), sum(dy*(x-mean)) turned into the four 1-D gradients. */
function batchNormGradWasm({ inputs, backend: anyBackend, attrs }: Parameters<tf.KernelConfig['kernelFunc']>[0]): tf.TensorInfo[] {
  const kernel = BATCH_NORM_GRAD_KERNEL;
  const backend = asWasmBackend(anyBackend);
  const dyInfo = input(inputs, 'dy', kernel);
  const xInfo = input(inputs, 'x', kernel);
  const meanInfo = input(inputs, 'mean', kernel);
  const varianceInfo = input(inputs, 'variance', kernel);
  const scaleInfo = inputs['scale'];
  requireFloat32(kernel, dyInfo, xInfo, meanInfo, varianceInfo, ...(scaleInfo === undefined ? [] : [scaleInfo]));
  const { varianceEpsilon } = attrs as unknown as BatchNormGradAttrs;
  const c = meanInfo.shape[0]!;
  const total = xInfo.shape.reduce((a, b) => a * b, 1);
  if (meanInfo.shape.length !== 1 || xInfo.shape[xInfo.shape.length - 1] !== c || total % c !== 0) {
    throw new Error(`${kernel}: expects 1-D mean over x's last axis, got mean ${JSON.stringify(meanInfo.shape)}, x ${JSON.stringify(xInfo.shape)}`);
  }
  const rows = total / c;

  const outs = [
    backend.makeOutput(xInfo.shape, 'float32'),
    backend.makeOutput([c], 'float32'),
    backend.makeOutput([c], 'float32'),
    backend.makeOutput([c], 'float32'),
    backend.makeOutput([c], 'float32'),
  ] as const;
  const simd = c % 4 === 0 ? simdKernels(backend) : undefined;
  // The SIMD pass's k and m, then its two float64 sums.
  const scratchInfo = simd === undefined ? undefined : backend.makeOutput([6 * c], 'float32');
  // Views taken after every allocation (a heap growth would detach earlier ones).
  const dy = heapF32(backend, dyInfo);
  const x = heapF32(backend, xInfo);
  const mean = heapF32(backend, meanInfo);
  const variance = heapF32(backend, varianceInfo);
  const scale = scaleInfo === undefined ? undefined : heapF32(backend, scaleInfo);
  const [dx, dMean, dVariance, dScale, dOffset] = outs.map((o) => heapF32(backend, o)) as [
    Float32Array, Float32Array, Float32Array, Float32Array, Float32Array,
  ];

  const r = new Float64Array(c);
  const k = new Float32Array(c);
  const m = new Float32Array(c);
  for (let j = 0; j < c; j++) {
    r[j] = rsqrtAsTfjs(variance[j]!, varianceEpsilon);
    k[j] = r[j]! * (scale === undefined ? 1 : scale[j]!);
    m[j] = mean[j]!;
  }
  let sumDy = new Float64Array(c);
  let sumDyXm = new Float64Array(c);
  // Four rows per pass: the running sums are loaded and stored once for four rows.
  let i = simd === undefined ? 0 : rows;
  if (simd !== undefined && scratchInfo !== undefined) {
    // The same pass as SIMD code.
    const scratch = heapF32(backend, scratchInfo);
    scratch.set(k);
    scratch.set(m, c);
    scratch.fill(0, 2 * c);
    const at = scratch.byteOffset;
    simd.batchNormGradRows(dy.byteOffset, x.byteOffset, dx.byteOffset, at + 4 * c, at, at + 8 * c, at + 16 * c, rows, c);
    sumDy = new Float64Array(scratch.buffer, at + 8 * c, c).slice();
    sumDyXm = new Float64Array(scratch.buffer, at + 16 * c, c).slice();
    dispose(backend, scratchInfo);
  }
  for (; i + 4 <= rows; i += 4) {
    const b0 = i * c;
    const b1 = b0 + c;
    const b2 = b1 + c;
    const b3 = b2 + c;
    for (let j = 0; j < c; j++) {
      const g0 = dy[b0 + j]!;
      const g1 = dy[b1 + j]!;
      const g2 = dy[b2 + j]!;
      const g3 = dy[b3 + j]!;
      const mj = m[j]!;
      const kj = k[j]!;
      sumDy[j] = sumDy[j]! + ((g0 + g1) + (g2 + g3));
      sumDyXm[j] = sumDyXm[j]! + ((g0 * (x[b0 + j]! - mj) + g1 * (x[b1 + j]! - mj)) + (g2 * (x[b2 + j]! - mj) + g3 * (x[b3 + j]! - mj)));
      dx[b0 + j] = g0 * kj;
      dx[b1 + j] = g1 * kj;
      dx[b2 + j] = g2 * kj;
      dx[b3 + j] = g3 * kj;
    }
  }
  for (let base = i * c; i < rows; i++, base += c) {
    for (let j = 0; j < c; j++) {
      const g = dy[base + j]!;
      sumDy[j] = sumDy[j]! + g;
      sumDyXm[j] = sumDyXm[j]! + g * (x[base + j]! - m[j]!);
      dx[base + j] = g * k[j]!;
    }
  }
  for (let j = 0; j < c; j++) {
    const s = scale === undefined ? 1 : scale[j]!;
    const rj = r[j]!;
    dMean[j] = -rj * s * sumDy[j]!;
    dVariance[j] = -0.5 * rj * rj * rj * s * sumDyXm[j]!;
    dScale[j] = rj * sumDyXm[j]!;
    dOffset[j] = sumDy[j]!;
  }
  return [...outs];
}

export const batchNormGradWasmConfig: tf.KernelConfig = {
  kernelName: BATCH_NORM_GRAD_KERNEL,
  backendName: WASM,
  kernelFunc: batchNormGradWasm,
};

type Grads = Record<'x' | 'mean' | 'variance' | 'scale' | 'offset', () => tf.Tensor>;

function reductionAxes(rank: number): number[] {
  return Array.from({ length: rank - 1 }, (_, i) => i);
}

/** 1-D mean: per-channel tensors broadcast against x, no Tile. */
function broadcastGrads(dy: tf.Tensor, x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, scale: tf.Tensor | undefined, eps: number): Grads {
  const axes = reductionAxes(x.rank);
  const r = tf.rsqrt(tf.add(variance, tf.scalar(eps)));
  const rs = scale === undefined ? r : tf.mul(r, scale);
  // Computed here, not inside the closures: the tape runs each closure in its own tidy.
  const sumDy = tf.sum(dy, axes);
  const sumDyXm = tf.sum(tf.mul(dy, tf.sub(x, mean)), axes);
  return {
    x: () => tf.mul(dy, rs),
    mean: () => tf.mul(tf.neg(rs), sumDy),
    variance: () => tf.mul(tf.mul(tf.mul(tf.mul(tf.mul(r, r), r), tf.scalar(-0.5)), scale ?? tf.scalar(1)), sumDyXm),
    scale: () => tf.mul(r, sumDyXm),
    offset: () => tf.reshape(sumDy, mean.shape),
  };
}

/** mean with x's shape: tfjs's element-wise form (no reductions). */
function elementwiseGrads(dy: tf.Tensor, x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, scale: tf.Tensor | undefined, eps: number): Grads {
  const s = scale ?? tf.scalar(1);
  const xMinusMean = tf.sub(x, mean);
  const dyTimesScale = tf.mul(dy, s);
  const r = tf.rsqrt(tf.add(variance, tf.scalar(eps)));
  const minusHalfRCube = tf.mul(tf.mul(tf.mul(r, r), r), tf.scalar(-0.5));
  return {
    x: () => tf.reshape(tf.mul(tf.mul(dy, r), s), x.shape),
    mean: () => tf.reshape(tf.mul(tf.mul(r, tf.scalar(-1)), dyTimesScale), mean.shape),
    variance: () => tf.reshape(tf.mul(tf.mul(minusHalfRCube, xMinusMean), dyTimesScale), mean.shape),
    scale: () => tf.reshape(tf.mul(dy, tf.mul(xMinusMean, r)), mean.shape),
    offset: () => tf.reshape(dy, mean.shape),
  };
}

function fusedGrads(dy: tf.Tensor, x: tf.Tensor, mean: tf.Tensor, variance: tf.Tensor, scale: tf.Tensor | undefined, eps: number): Grads {
  const inputs: tf.NamedTensorMap = { dy, x, mean, variance };
  if (scale !== undefined) inputs['scale'] = scale;
  const [dx, dMean, dVariance, dScale, dOffset] = tf.engine().runKernel(
    BATCH_NORM_GRAD_KERNEL, inputs, { varianceEpsilon: eps } as unknown as tf.NamedAttrMap,
  ) as tf.Tensor[];
  return { x: () => dx!, mean: () => dMean!, variance: () => dVariance!, scale: () => dScale!, offset: () => dOffset! };
}

export const fusedBatchNormGradConfig: tf.GradConfig = {
  kernelName: FUSED_BATCH_NORM,
  // As tfjs-core: FusedBatchNorm's inputs are {x, scale, offset, mean, variance}. As there, a
  // batchNorm without scale cannot be differentiated (the engine cannot save an absent input).
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap): Grads => {
    const { varianceEpsilon } = attrs as unknown as BatchNormGradAttrs;
    const [x, mean, variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    const g = Array.isArray(dy) ? dy[0]! : dy;
    if (mean.rank !== 1) return elementwiseGrads(g, x, mean, variance, scale ?? undefined, varianceEpsilon);
    const fused =
      tf.getBackend() === WASM &&
      tf.getKernel(BATCH_NORM_GRAD_KERNEL, WASM) !== undefined &&
      [g, x, mean, variance, ...(scale == null ? [] : [scale])].every((t) => t.dtype === 'float32');
    return (fused ? fusedGrads : broadcastGrads)(g, x, mean, variance, scale ?? undefined, varianceEpsilon);
  },
};

/** tfjs-core's own gradient, read from its global registry (the one the engine consults). */
function registeredGradient(): tf.GradConfig | undefined {
  const globals = (globalThis as { _tfGlobals?: Map<string, unknown> })._tfGlobals;
  const registry = globals?.get('gradRegistry');
  return registry instanceof Map ? (registry.get(FUSED_BATCH_NORM) as tf.GradConfig | undefined) : undefined;
}

let original: tf.GradConfig | undefined;

/** Installs our FusedBatchNorm gradient (all backends) and the fused wasm kernel behind it. */
export function installBatchNormGradient(): void {
  const current = registeredGradient();
  if (current !== fusedBatchNormGradConfig) original = current;
  tf.registerGradient(fusedBatchNormGradConfig);
  if (tf.getKernel(BATCH_NORM_GRAD_KERNEL, WASM) === undefined) tf.registerKernel(batchNormGradWasmConfig);
}

/** Puts tfjs-core's gradient back (for before/after measurements and reference tests). */
export function uninstallBatchNormGradient(): void {
  if (original === undefined) throw new Error('the original FusedBatchNorm gradient was not captured');
  tf.registerGradient(original);
}

export function batchNormGradientInstalled(): boolean {
  return registeredGradient() === fusedBatchNormGradConfig;
}
