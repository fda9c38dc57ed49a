/**
 * Batch norm in training as one differentiable op on wasm: y = (x - mean) * r * gamma + beta,
 * r = 1/sqrt(variance + eps), with the batch's mean and variance over every axis but the last.
 *
 * Built from `fusedMoments` and tf.batchNorm, autodiff ran three backward kernels per layer, each
 * writing an x-sized tensor: FusedBatchNorm's gradient (dx through the normalisation, plus the
 * per-channel sums), the moments' gradient (dx through the mean and variance) and the Add that
 * joins them. As one op its gradient is
 *   dx = r gamma (dy - sum(dy) / N - xhat sum(dy xhat) / N),  xhat = (x - mean) r,
 *   dgamma = sum(dy xhat),  dbeta = sum(dy)
 * in two SIMD passes (`BatchNormTrainGradProject`): the per-channel float64 sums of dy and
 * dy (x - mean), then dx = dy k + x p + q with per-channel k, p, q. The forward pass is what it
 * was (the same moments kernel and FusedBatchNorm), so outputs and moving statistics are
 * unchanged. Elsewhere (other backends, channels not in fours) `batchNormTrain` answers
 * undefined and the caller keeps the separate ops.
 */
import * as tf from '@tensorflow/tfjs';
import { rsqrtAsTfjs } from './batch-norm-grad.js';
import { fusedMoments } from './moments.js';
import { simdKernels } from './simd/simd-kernels.js';
import { WASM, asWasmBackend, dispose, heapF32, input, requireFloat32 } from './wasm-kernel-context.js';

export const BATCH_NORM_TRAIN_GRAD_KERNEL = 'BatchNormTrainGradProject';

type KernelArgs = Parameters<tf.KernelConfig['kernelFunc']>[0];

function batchNormTrainGradWasm({ inputs, backend: anyBackend, attrs }: KernelArgs): tf.TensorInfo[] {
  const kernel = BATCH_NORM_TRAIN_GRAD_KERNEL;
  const backend = asWasmBackend(anyBackend);
  const names = ['dy', 'x', 'mean', 'variance', 'scale'] as const;
  const [dyInfo, xInfo, meanInfo, varianceInfo, scaleInfo] = names.map((name) => input(inputs, name, kernel)) as [
    tf.TensorInfo, tf.TensorInfo, tf.TensorInfo, tf.TensorInfo, tf.TensorInfo,
  ];
  requireFloat32(kernel, dyInfo, xInfo, meanInfo, varianceInfo, scaleInfo);
  const c = xInfo.shape[xInfo.shape.length - 1] ?? 0;
  const simd = simdKernels(backend);
  const perChannel = [meanInfo, varianceInfo, scaleInfo].every((t) => t.shape.length === 1 && t.shape[0] === c);
  if (simd === undefined || c % 4 !== 0 || !perChannel || !tf.util.arraysEqual(dyInfo.shape, xInfo.shape)) {
    throw new Error(`${kernel} needs the SIMD kernels, channels in fours and 1-D statistics over x's last axis; got x ${JSON.stringify(xInfo.shape)}, mean ${JSON.stringify(meanInfo.shape)}`);
  }
  const rows = tf.util.sizeFromShape(xInfo.shape) / c;
  const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
  const dxInfo = backend.makeOutput(xInfo.shape, 'float32');
  const dScaleInfo = backend.makeOutput([c], 'float32');
  const dOffsetInfo = backend.makeOutput([c], 'float32');
  // m, k, p, q (float32), then the two float64 sums.
  const scratchInfo = backend.makeOutput([8 * c], 'float32');
  // Views after every allocation (a heap growth would detach earlier ones).
  const scratch = heapF32(backend, scratchInfo);
  const at = scratch.byteOffset;
  scratch.set(heapF32(backend, meanInfo));
  scratch.fill(0, 4 * c);
  const dyAt = heapF32(backend, dyInfo).byteOffset;
  const xAt = heapF32(backend, xInfo).byteOffset;
  simd.batchNormGradSums(dyAt, xAt, at, at + 16 * c, at + 24 * c, rows, c);
  const sumDy = new Float64Array(scratch.buffer, at + 16 * c, c);
  const sumDyXm = new Float64Array(scratch.buffer, at + 24 * c, c);
  const mean = heapF32(backend, meanInfo);
  const variance = heapF32(backend, varianceInfo);
  const scale = heapF32(backend, scaleInfo);
  const dScale = heapF32(backend, dScaleInfo);
  const dOffset = heapF32(backend, dOffsetInfo);
  const k = scratch.subarray(c, 2 * c);
  const p = scratch.subarray(2 * c, 3 * c);
  const q = scratch.subarray(3 * c, 4 * c);
  for (let j = 0; j < c; j++) {
    // r as tfjs computes it; the rest in float64.
    const r = rsqrtAsTfjs(variance[j]!, varianceEpsilon);
    const kj = r * scale[j]!;
    const pj = (-kj * r * r * sumDyXm[j]!) / rows;
    k[j] = kj;
    p[j] = pj;
    q[j] = (-kj * sumDy[j]!) / rows - pj * mean[j]!;
    dScale[j] = r * sumDyXm[j]!;
    dOffset[j] = sumDy[j]!;
  }
  simd.affine2Rows(dyAt, xAt, heapF32(backend, dxInfo).byteOffset, at + 4 * c, at + 8 * c, at + 12 * c, rows, c);
  dispose(backend, scratchInfo);
  return [dxInfo, dScaleInfo, dOffsetInfo];
}

let installed = false;

function install(): void {
  if (installed) return;
  installed = true;
  if (tf.getKernel(BATCH_NORM_TRAIN_GRAD_KERNEL, WASM) === undefined) {
    tf.registerKernel({ kernelName: BATCH_NORM_TRAIN_GRAD_KERNEL, backendName: WASM, kernelFunc: batchNormTrainGradWasm });
  }
}

/**
 * y = batchNorm(x) with the batch's statistics, as one op whose gradient is the two-pass kernel
 * above; `withMoments` gets the batch's mean and variance during the forward pass (for the
 * moving averages; they are disposed after it). Undefined where that kernel cannot run (not
 * wasm, no SIMD kernels, channels not in fours, not float32), for the caller's own ops.
 */
export function batchNormTrain(
  x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, epsilon: number,
  withMoments: (mean: tf.Tensor, variance: tf.Tensor) => void,
): tf.Tensor | undefined {
  const c = x.shape[x.shape.length - 1] ?? 0;
  const applies = tf.getBackend() === WASM && x.dtype === 'float32' && x.rank >= 2 && c % 4 === 0
    && [gamma, beta].every((t) => t.dtype === 'float32' && t.rank === 1 && t.size === c)
    && simdKernels(asWasmBackend(tf.backend())) !== undefined;
  if (!applies) return undefined;
  install();
  const op = tf.customGrad(((xs: tf.Tensor, g: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
    const { mean, variance } = fusedMoments(xs);
    withMoments(mean, variance);
    save([xs, mean, variance, g]);
    return {
      value: tf.batchNorm(xs, mean, variance, b, g, epsilon),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [savedX, savedMean, savedVariance, savedGamma] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        const grad = Array.isArray(dy) ? dy[0]! : dy;
        return tf.engine().runKernel(BATCH_NORM_TRAIN_GRAD_KERNEL,
          { dy: grad, x: savedX, mean: savedMean, variance: savedVariance, scale: savedGamma },
          { varianceEpsilon: epsilon } as unknown as tf.NamedAttrMap) as tf.Tensor[];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(x, gamma, beta);
}
