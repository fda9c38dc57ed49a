/**
 * Conv2DBackpropFilter for the wasm backend (which has none).
 *
 * dW[kh,kw,ci,co] = sum over (b,oh,ow) of x[b, oh*s+kh-top, ow*s+kw-left, ci] * dy[b,oh,ow,co].
 * Read with ci as the batch, b as the input channel and dy as an (OH x OW) filter, that sum is
 * itself a forward convolution whose stride becomes a dilation:
 *   x' = x transposed to [CI, H, W, B],  f' = dy transposed to [OH, OW, B, CO]
 *   conv2d(x', f', stride 1, dilation s, explicit pad) -> [CI, KH, KW, CO] -> [KH, KW, CI, CO]
 * so the arithmetic runs in XNNPACK's convolution (SIMD, and threaded when threads are on),
 * with no im2col buffer. For a 3x3x32->32 filter on [64,26,26,32] it measured 32 ms against
 * 42 ms for im2col in JS followed by an XNNPACK matmul. Tiny filters are the exception (below).
 * Paths, first that applies: 1x1 stride 1 (one SIMD pass); few filter rows or input channels
 * not in fours (im2col, then SIMD passes, or XNNPACK's matmul where output channels are not in
 * eights); stride 1 with channels in fours and eights (SIMD passes per tap and row); the rewrite.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  WASM, asWasmBackend, dispose, heapF32, input, requireFloat32, requireNhwc, runKernel, viewAs,
} from './wasm-kernel-context.js';
import { CallBatch } from './simd/simd-calls.js';
import { deferWork, deferrable } from './deferred-work.js';
import { type SimdKernels, backendMemory, simdKernels } from './simd/simd-kernels.js';

/**
 * Filters with at most this many taps x input channels (a first layer on grey images: 3x3x1)
 * take the im2col path. Measured with a fresh dy per call, 2 threads, im2col against the
 * convolution rewrite: 3x3x1 on [64,28,28] 4.7 against 5.3 ms; 3x3x3 on [64,32,32] 'same' 23.4
 * against 26.2 ms (about even); 3x3x8 on [64,16,16] 13.8 against 4.1 ms and 3x3x3 on
 * [32,96,96] 88 against 62 ms, where the rewrite wins.
 */
const IM2COL_MAX_ROWS = 16;

/**
 * Filters with input channels not in fours (no tap-row passes) and at most this many rows (7x7x3
 * = 147, ResNet's stem) take im2col with SIMD passes: 3x3x3 to 64 on [32,64,64,3] 89 -> 26 ms,
 * 7x7x3 stride 2 41 -> 34 ms on two threads.
 */
const IM2COL_SIMD_MAX_ROWS = 160;

/**
 * cols[p, (kh, kw, ci)] = x at output position p's tap (kh, kw), or 0 in the padding. Windows
 * wholly inside the image (all but a border of a 'same' convolution) copy KW * CI consecutive
 * values per filter row with no bounds tests, a row's run of them in one SIMD call when `simd`
 * is given (`im2colRun`; xs and cols must then be views of the wasm heap); the rest test each tap.
 */
function fillCols(xs: Float32Array, cols: Float32Array, info: tf.backend_util.Conv2DInfo, stride = info.filterHeight * info.filterWidth * info.inChannels, simd?: SimdKernels): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const rowLength = filterWidth * inChannels;
  const inRow = inWidth * inChannels;
  const rows = filterHeight * rowLength;
  // Output columns whose window lies inside the image's width.
  const owLo = Math.min(outWidth, Math.max(0, Math.ceil(left / strideWidth)));
  const owHi = Math.max(owLo, Math.min(outWidth, Math.floor((inWidth - filterWidth + left) / strideWidth) + 1));
  let p = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const ih0 = oh * strideHeight - top;
      const rowsInside = ih0 >= 0 && ih0 + filterHeight <= inHeight;
      for (let ow = 0; ow < outWidth; ow++, p += stride - rows) {
        const iw0 = ow * strideWidth - left;
        if (simd !== undefined && rowsInside && ow === owLo && owHi > owLo) {
          const from = ((b * inHeight + ih0) * inWidth + iw0) * inChannels;
          const count = owHi - owLo;
          simd.im2colRun(xs.byteOffset + 4 * from, cols.byteOffset + 4 * p, count, 4 * strideWidth * inChannels, rowLength, filterHeight, 4 * inRow, 4 * stride);
          p += count * stride - (stride - rows);
          ow += count - 1;
          continue;
        }
        // Positions are `stride` floats apart; the floats past a position's rows are zeros.
        for (let z = rows; z < stride; z++) cols[p + z] = 0;
        if (rowsInside && iw0 >= 0 && iw0 + filterWidth <= inWidth) {
          let from = ((b * inHeight + ih0) * inWidth + iw0) * inChannels;
          if (rowLength === 3) {
            // A 3-wide filter on one channel (the first layer on grey images), unrolled.
            for (let kh = 0; kh < filterHeight; kh++, from += inRow, p += 3) {
              cols[p] = xs[from]!;
              cols[p + 1] = xs[from + 1]!;
              cols[p + 2] = xs[from + 2]!;
            }
            continue;
          }
          for (let kh = 0; kh < filterHeight; kh++, from += inRow) {
            for (let j = 0; j < rowLength; j++) cols[p++] = xs[from + j]!;
          }
          continue;
        }
        for (let kh = 0; kh < filterHeight; kh++) {
          const ih = ih0 + kh;
          for (let kw = 0; kw < filterWidth; kw++) {
            const iw = iw0 + kw;
            if (ih < 0 || ih >= inHeight || iw < 0 || iw >= inWidth) {
              for (let ci = 0; ci < inChannels; ci++) cols[p++] = 0;
              continue;
            }
            const from = ((b * inHeight + ih) * inWidth + iw) * inChannels;
            for (let ci = 0; ci < inChannels; ci++) cols[p++] = xs[from + ci]!;
          }
        }
      }
    }
  }
}

/**
 * dW^T as one XNNPACK matmul: dy^T [CO, P] times cols [P, K], where P = B*OH*OW positions and
 * K = KH*KW*CI filter rows. With few filter rows the convolution rewrite has too few output
 * pixels (K per input channel) to fill XNNPACK's tiles, while cols stays small. cols is the
 * matmul's right-hand side because XNNPACK repacks that operand on every call, and cols is
 * K/CO the size of dy.
 */
/**
 * dW as SIMD pointwise passes over im2col's columns: cols [P, K'] (K = KH*KW*CI filter rows
 * padded to K' in fours) read as a 1x1 convolution's input of K' channels, so dW^T's rows are
 * `pointwiseFilterGrad` over P positions, shared with helper threads by slices of rows. For
 * filters with few rows or input channels not in fours (a first layer on images: 3x3x1, 3x3x3
 * stride 2), where XNNPACK's matmul repacked cols or dy on every call: MobileNetV3-Small's
 * stem on [32,96,96,3] 13.8 -> 7.8-8.2 ms, and with im2col's interior runs as SIMD copies
 * (`im2colRun`) 7.9 -> 3.8 ms on one thread. Needs output channels in eights and SIMD.
 */
function viaIm2colSimd(backend: BackendWasm, x: tf.TensorInfo, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo, filterShape: number[]): tf.TensorInfo | undefined {
  const { batchSize, outHeight, outWidth, outChannels, filterHeight, filterWidth, inChannels } = info;
  const simd = simdKernels(backend);
  if (simd === undefined || outChannels % 8 !== 0) return undefined;
  const positions = batchSize * outHeight * outWidth;
  const rows = filterHeight * filterWidth * inChannels;
  const stride = 4 * Math.ceil(rows / 4);
  const colsInfo = backend.makeOutput([positions, stride], 'float32');
  const accInfo = backend.makeOutput([stride, outChannels], 'float32');
  const dw = backend.makeOutput(filterShape, 'float32');
  // Views after the last allocation (a growing heap detaches earlier ones).
  const cols = heapF32(backend, colsInfo);
  const acc = heapF32(backend, accInfo);
  fillCols(heapF32(backend, x), cols, info, stride, simd);
  acc.fill(0);
  const dyAt = heapF32(backend, dy).byteOffset;
  const batch = new CallBatch(simd, backendMemory(backend)!);
  const slice = 4 * Math.ceil(stride / (4 * batch.threadsFor(positions * stride * outChannels)));
  for (let r0 = 0; r0 < stride; r0 += slice) {
    const n = Math.min(slice, stride - r0);
    batch.add('pointwiseFilterGrad', r0, positions * n * outChannels, cols.byteOffset + 4 * r0, dyAt, acc.byteOffset + 4 * r0 * outChannels, positions, n, outChannels, stride, outChannels);
  }
  batch.run();
  heapF32(backend, dw).set(heapF32(backend, accInfo).subarray(0, rows * outChannels));
  dispose(backend, colsInfo, accInfo);
  return dw;
}

function viaIm2col(backend: BackendWasm, x: tf.TensorInfo, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo, filterShape: number[]): tf.TensorInfo {
  const { batchSize, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } = info;
  const positions = batchSize * outHeight * outWidth;
  const rows = filterHeight * filterWidth * inChannels;
  const dyT = runKernel('Transpose', backend, { x: viewAs(dy, [positions, outChannels]) }, { perm: [1, 0] });
  const colsInfo = backend.makeOutput([positions, rows], 'float32');
  fillCols(heapF32(backend, x), heapF32(backend, colsInfo), info, undefined, simdKernels(backend));
  const dwT = runKernel('BatchMatMul', backend, {
    a: viewAs(dyT, [1, outChannels, positions]),
    b: viewAs(colsInfo, [1, positions, rows]),
  }, { transposeA: false, transposeB: false });
  dispose(backend, dyT, colsInfo);
  const dw = runKernel('Transpose', backend, { x: viewAs(dwT, [outChannels, rows]) }, { perm: [1, 0] });
  dispose(backend, dwT);
  return viewAs(dw, filterShape);
}

/**
 * A 1x1, stride-1 convolution's filter gradient, dW[ci, co] = x^T dy over all pixels, as one
 * SIMD pass (`pointwiseFilterGrad`) straight over x and dy: no transposes, no operand packed for
 * XNNPACK. MobileNetV3-Small's 1x1 layers at one thread: [32,24,24,16] to 72 channels 13 ms by
 * im2col and a matmul, ~4 ms here. Undefined where it does not apply (channels not in fours
 * and eights, no SIMD kernels): the rewrite below runs.
 */
function pointwiseGradient(backend: BackendWasm, x: tf.TensorInfo, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo, filterShape: number[]): tf.TensorInfo | undefined {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  if (filterHeight !== 1 || filterWidth !== 1 || strideHeight !== 1 || strideWidth !== 1) return undefined;
  if (outHeight !== inHeight || outWidth !== inWidth || inChannels % 4 !== 0 || outChannels % 8 !== 0) return undefined;
  const simd = simdKernels(backend);
  if (simd === undefined) return undefined;
  const dw = backend.makeOutput(filterShape, 'float32');
  const acc = heapF32(backend, dw);
  acc.fill(0);
  const xAt = heapF32(backend, x).byteOffset;
  const dyAt = heapF32(backend, dy).byteOffset;
  const pixels = batchSize * inHeight * inWidth;
  const batch = new CallBatch(simd, backendMemory(backend)!, deferrable(pixels * inChannels * outChannels));
  // With helper threads, slices of dW that the threads share: of its columns (output channels)
  // when those outnumber its rows, so each thread reads a slice of dy, the larger operand.
  const threads = batch.threadsFor(pixels * inChannels * outChannels);
  if (batch.deferred) {
    // One thread, in runs of pixels (multiples of the kernel's 64-pixel tile, so the same sums
    // in the same order): each call reads its own rows of x and dy once.
    const run = 64 * Math.ceil(pixels / (64 * threads));
    for (let p0 = 0; p0 < pixels; p0 += run) {
      const n = Math.min(run, pixels - p0);
      batch.add('pointwiseFilterGrad', 0, n * inChannels * outChannels, xAt + 4 * p0 * inChannels, dyAt + 4 * p0 * outChannels, acc.byteOffset, n, inChannels, outChannels, inChannels, outChannels);
    }
  } else if (threads > 1 && outChannels >= inChannels) {
    const slice = 8 * Math.ceil(outChannels / (8 * threads));
    for (let o0 = 0; o0 < outChannels; o0 += slice) {
      const o = Math.min(slice, outChannels - o0);
      batch.add('pointwiseFilterGrad', o0, pixels * inChannels * o, xAt, dyAt + 4 * o0, acc.byteOffset + 4 * o0, pixels, inChannels, o, inChannels, outChannels);
    }
  } else {
    const slice = 4 * Math.ceil(inChannels / (4 * threads));
    for (let c0 = 0; c0 < inChannels; c0 += slice) {
      const c = Math.min(slice, inChannels - c0);
      batch.add('pointwiseFilterGrad', c0, pixels * c * outChannels, xAt + 4 * c0, dyAt, acc.byteOffset + 4 * c0 * outChannels, pixels, c, outChannels, inChannels, outChannels);
    }
  }
  deferWork(backend, batch, [dw], [x, dy]);
  return dw;
}

/**
 * A stride-1 KxK convolution's filter gradient as K*K pointwise ones: tap (kh, kw)'s block
 * dW[kh, kw] = sum over output rows of x's row segment under that tap (contiguous pixels) times
 * dy's row, each a `pointwiseFilterGrad` call straight over the tensors, the tap's accumulators
 * staying in L1 across its rows. Padding only shortens the segments. Channels in fours and
 * eights; undefined otherwise (or without SIMD kernels). On one thread it beats the rewrite
 * below by 1.5-1.7x (3x3 32->64 on [64,13,13,32] 15.6 -> 10.2 ms; 3x3 64->64 on [32,16,16,64]
 * 'same' 33.2 -> 19.6 ms) and matches the rewrite's time on two threads.
 */
function tapRowsGradient(backend: BackendWasm, x: tf.TensorInfo, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo, filterShape: number[]): tf.TensorInfo | undefined {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  if (strideHeight !== 1 || strideWidth !== 1 || dilationHeight !== 1 || dilationWidth !== 1) return undefined;
  if (inChannels % 4 !== 0 || outChannels % 8 !== 0) return undefined;
  const simd = simdKernels(backend);
  if (simd === undefined) return undefined;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const dw = backend.makeOutput(filterShape, 'float32');
  const acc = heapF32(backend, dw);
  acc.fill(0);
  const xAt = heapF32(backend, x).byteOffset;
  const dyAt = heapF32(backend, dy).byteOffset;
  const block = inChannels * outChannels * 4;
  const work = filterHeight * filterWidth * batchSize * outHeight * outWidth * inChannels * outChannels;
  const batch = new CallBatch(simd, backendMemory(backend)!, deferrable(work));
  for (let kh = 0; kh < filterHeight; kh++) {
    for (let kw = 0; kw < filterWidth; kw++) {
      // Output columns whose input column ow + kw - left lies inside the image.
      const owLo = Math.max(0, left - kw);
      const owHi = Math.min(outWidth, inWidth + left - kw);
      if (owHi <= owLo) continue;
      const tapAcc = acc.byteOffset + (kh * filterWidth + kw) * block;
      for (let b = 0; b < batchSize; b++) {
        for (let oh = 0; oh < outHeight; oh++) {
          const ih = oh + kh - top;
          if (ih < 0 || ih >= inHeight) continue;
          batch.add('pointwiseFilterGrad', kh * filterWidth + kw, (owHi - owLo) * inChannels * outChannels,
            xAt + (((b * inHeight + ih) * inWidth + owLo + kw - left) * inChannels) * 4,
            dyAt + (((b * outHeight + oh) * outWidth + owLo) * outChannels) * 4,
            tapAcc, owHi - owLo, inChannels, outChannels, inChannels, outChannels);
        }
      }
    }
  }
  deferWork(backend, batch, [dw], [x, dy]);
  return dw;
}

function conv2dBackpropFilter({ inputs, backend: anyBackend, attrs }: Parameters<tf.KernelConfig['kernelFunc']>[0]): tf.TensorInfo {
  const kernel = 'Conv2DBackpropFilter';
  const backend = asWasmBackend(anyBackend);
  const x = input(inputs, 'x', kernel);
  const dy = input(inputs, 'dy', kernel);
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  requireNhwc(kernel, dataFormat);
  requireFloat32(kernel, x, dy);

  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode, false,
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const pointwise = pointwiseGradient(backend, x, dy, info, filterShape);
  if (pointwise !== undefined) return pointwise;
  const rows = filterHeight * filterWidth * inChannels;
  if (rows <= IM2COL_MAX_ROWS || (inChannels % 4 !== 0 && rows <= IM2COL_SIMD_MAX_ROWS)) {
    const columns = viaIm2colSimd(backend, x, dy, info, filterShape);
    if (columns !== undefined) return columns;
  }
  if (rows <= IM2COL_MAX_ROWS) return viaIm2col(backend, x, dy, info, filterShape);
  const taps = tapRowsGradient(backend, x, dy, info, filterShape);
  if (taps !== undefined) return taps;
  const top = info.padInfo.top;
  const left = info.padInfo.left;

  // Rows/columns past the last window never reach dW; cropping them keeps the padding of the
  // rewritten convolution non-negative (e.g. 'valid', stride 2, even-sized input).
  const usedHeight = Math.min(inHeight, (outHeight - 1) * strideHeight + filterHeight - top);
  const usedWidth = Math.min(inWidth, (outWidth - 1) * strideWidth + filterWidth - left);
  const cropped = usedHeight < inHeight || usedWidth < inWidth
    ? runKernel('Slice', backend, { x }, { begin: [0, 0, 0, 0], size: [batchSize, usedHeight, usedWidth, inChannels] })
    : x;
  const xT = runKernel('Transpose', backend, { x: cropped }, { perm: [3, 1, 2, 0] });
  if (cropped !== x) dispose(backend, cropped);
  const dyT = runKernel('Transpose', backend, { x: dy }, { perm: [1, 2, 0, 3] });

  const bottom = (outHeight - 1) * strideHeight + filterHeight - usedHeight - top;
  const right = (outWidth - 1) * strideWidth + filterWidth - usedWidth - left;
  const perChannel = runKernel('Conv2D', backend, { x: xT, filter: dyT }, {
    strides: [1, 1],
    dilations: [strideHeight, strideWidth],
    pad: [[0, 0], [top, bottom], [left, right], [0, 0]],
    dataFormat: 'NHWC',
  });
  dispose(backend, xT, dyT);
  const dw = runKernel('Transpose', backend, { x: perChannel }, { perm: [1, 2, 0, 3] });
  dispose(backend, perChannel);
  return dw;
}

export const conv2dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: WASM,
  kernelFunc: conv2dBackpropFilter,
};
