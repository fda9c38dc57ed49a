/**
 * Stride-1 convolutions as SIMD tap passes (simd/wat.ts, `tapInputRows`): for each image and
 * filter tap, out's pixels += a's shifted pixels times the tap's [k, n] matrix, over only the
 * pixels the tap reaches. 4-pixel x 8-channel tiles of out stay in registers while the k
 * products accumulate (16-20 GMAC/s on one thread against XNNPACK's 14-15), and no product
 * lands on a zero border. Used for
 * - the forward Conv2D (a = x, out = y, matrices W[kh, kw] as stored), small-cnn's 3x3 32->64
 *   layer on [64,13,13,32]: 9.7 -> 8.6 ms on one thread;
 * - the input gradient (a = dy, out = dx, matrices W[kh, kw]^T), where XNNPACK's "full"
 *   convolution also multiplies the zero border: the same layer 14.1 -> 9.7-10.2 ms.
 * An image's calls form one group of a CallBatch, so helper threads split by images and the
 * bits do not depend on how many threads ran. On a threaded backend, work too small to split
 * across our helper threads stays with XNNPACK, which spreads it over every thread.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { CallBatch } from './simd/simd-calls.js';
import { backendMemory, simdKernels } from './simd/simd-kernels.js';
import { WASM, asWasmBackend, dispose, heapF32, input, runKernel } from './wasm-kernel-context.js';

/** One side of a tap pass: a tensor's byte address and its [batch, rows, cols, channels] layout. */
interface Plane {
  at: number;
  rows: number;
  cols: number;
  channels: number;
}

/**
 * out[b, r, c, :] += a[b, r + dh, c + dw, :] . matrix(tap) for every tap ([dh, dw] in `taps`)
 * and every (r, c) whose shifted pixel lies inside a. `matrixAt(tap)` is the byte address of
 * the tap's [a.channels, out.channels] matrix. out must be zeroed (or hold what to add to).
 */
function tapPasses(
  batch: CallBatch, batchSize: number, a: Plane, out: Plane, taps: [number, number][], matrixAt: (tap: number) => number,
): void {
  const k = a.channels;
  const n = out.channels;
  const whole = taps.length === 1 && taps[0]![0] === 0 && taps[0]![1] === 0 && a.rows === out.rows && a.cols === out.cols;
  for (let b = 0; b < batchSize; b++) {
    if (whole) {
      // A 1x1 layer: the image's pixels are one run in a and in out.
      const pixels = out.rows * out.cols;
      batch.add('tapInputRows', b, pixels * k * n, a.at + 4 * b * pixels * k, matrixAt(0), out.at + 4 * b * pixels * n, pixels, 1, k, n, 0, 0);
      continue;
    }
    taps.forEach(([dh, dw], tap) => {
      const rLo = Math.max(0, -dh);
      const rHi = Math.min(out.rows, a.rows - dh);
      const cLo = Math.max(0, -dw);
      const cHi = Math.min(out.cols, a.cols - dw);
      if (rLo >= rHi || cLo >= cHi) return;
      const count = cHi - cLo;
      const rows = rHi - rLo;
      const aFirst = ((b * a.rows + rLo + dh) * a.cols + cLo + dw) * k;
      const outFirst = ((b * out.rows + rLo) * out.cols + cLo) * n;
      batch.add('tapInputRows', b, count * rows * k * n, a.at + 4 * aFirst, matrixAt(tap), out.at + 4 * outFirst,
        count, rows, k, n, 4 * a.cols * k, 4 * out.cols * n);
    });
  }
  batch.run();
}

function tapsApply(info: tf.backend_util.Conv2DInfo, outChannels: number): boolean {
  return info.strideHeight === 1 && info.strideWidth === 1 && info.dilationHeight === 1 && info.dilationWidth === 1 && outChannels % 8 === 0;
}

/**
 * dx of a stride-1, undilated convolution with input channels in eights: taps (kh, kw) shift
 * dx's pixel to dy's by (top - kh, left - kw). Undefined where it does not apply.
 */
export function tapInputGradient(backend: BackendWasm, dy: tf.TensorInfo, filter: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo | undefined {
  const { batchSize, inHeight, inWidth, inChannels: ci, outHeight, outWidth, outChannels: co, filterHeight, filterWidth } = info;
  if (!tapsApply(info, ci)) return undefined;
  const simd = simdKernels(backend);
  if (simd === undefined) return undefined;
  const batch = new CallBatch(simd, backendMemory(backend)!);
  if (!batch.outrunsXnnpack(batchSize * outHeight * outWidth * filterHeight * filterWidth * ci * co)) return undefined;
  const taps = filterHeight * filterWidth;
  const wtInfo = backend.makeOutput([taps, co, ci], 'float32');
  const dxInfo = backend.makeOutput([batchSize, inHeight, inWidth, ci], 'float32');
  // Views after the last allocation (a growing heap detaches earlier ones).
  const w = heapF32(backend, filter);
  const wt = heapF32(backend, wtInfo);
  const dx = heapF32(backend, dxInfo);
  for (let t = 0; t < taps; t++) {
    for (let i = 0; i < ci; i++) {
      for (let o = 0; o < co; o++) wt[(t * co + o) * ci + i] = w[(t * ci + i) * co + o]!;
    }
  }
  dx.fill(0);
  const shifts: [number, number][] = [];
  for (let kh = 0; kh < filterHeight; kh++) for (let kw = 0; kw < filterWidth; kw++) shifts.push([info.padInfo.top - kh, info.padInfo.left - kw]);
  tapPasses(batch, batchSize, { at: heapF32(backend, dy).byteOffset, rows: outHeight, cols: outWidth, channels: co },
    { at: dx.byteOffset, rows: inHeight, cols: inWidth, channels: ci }, shifts, (tap) => wt.byteOffset + 4 * tap * co * ci);
  dispose(backend, wtInfo);
  return dxInfo;
}

/**
 * Conv2D on wasm: stride-1, undilated NHWC convolutions with at least 8 input channels and
 * output channels in eights run as tap passes (tap (kh, kw) shifts y's pixel to x's by
 * (kh - top, kw - left)); everything else runs in the backend's own XNNPACK kernel.
 */
function conv2d({ inputs, backend: anyBackend, attrs }: Parameters<tf.KernelConfig['kernelFunc']>[0]): tf.TensorInfo {
  const backend = asWasmBackend(anyBackend);
  const x = input(inputs, 'x', 'Conv2D');
  const filter = input(inputs, 'filter', 'Conv2D');
  const { strides, pad, dataFormat, dilations, dimRoundingMode } = attrs as unknown as tf.Conv2DAttrs;
  const simd = simdKernels(backend);
  if (simd === undefined || dataFormat !== 'NHWC' || x.dtype !== 'float32' || filter.dtype !== 'float32') return runKernel('Conv2D', backend, inputs, attrs);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filter.shape as [number, number, number, number], strides, dilations, pad, dimRoundingMode, false,
  );
  if (!tapsApply(info, info.outChannels) || info.inChannels < 8) return runKernel('Conv2D', backend, inputs, attrs);
  const { batchSize, inHeight, inWidth, inChannels: ci, outHeight, outWidth, outChannels: co, filterHeight, filterWidth } = info;
  const batch = new CallBatch(simd, backendMemory(backend)!);
  if (!batch.outrunsXnnpack(batchSize * outHeight * outWidth * filterHeight * filterWidth * ci * co)) return runKernel('Conv2D', backend, inputs, attrs);
  const yInfo = backend.makeOutput([batchSize, outHeight, outWidth, co], 'float32');
  const y = heapF32(backend, yInfo);
  y.fill(0);
  const shifts: [number, number][] = [];
  for (let kh = 0; kh < filterHeight; kh++) for (let kw = 0; kw < filterWidth; kw++) shifts.push([kh - info.padInfo.top, kw - info.padInfo.left]);
  const w = heapF32(backend, filter).byteOffset;
  tapPasses(batch, batchSize, { at: heapF32(backend, x).byteOffset, rows: inHeight, cols: inWidth, channels: ci },
    { at: y.byteOffset, rows: outHeight, cols: outWidth, channels: co }, shifts, (tap) => w + 4 * tap * ci * co);
  return yInfo;
}

export const conv2dConfig: tf.KernelConfig = { kernelName: 'Conv2D', backendName: WASM, kernelFunc: conv2d };
