/**
 * The two depthwise-convolution gradients the wasm backend lacks.
 *
 * The input gradient with channel multiplier 1 and no dilation (every depthwise layer of the
 * MobileNets and EfficientNet) scatters each dy row through each filter row into dx as SIMD
 * passes when the channels come in fours (`inputGradientSimd`); otherwise it is a "full"
 * depthwise convolution of dy with the filter rotated by 180 degrees, run in the backend's
 * XNNPACK depthwise convolution, dy first spread onto a zero grid when the stride is above 1.
 * The filter gradient with multiplier 1 sums each tap over the output columns it reaches, four
 * channels at a time in locals (`filterGradientMultiplier1`; as SIMD code, `filterGradientSimd`,
 * one call per tap and image, when the channels come in fours). Other cases are typed-array loops
 * over the wasm heap that visit (batch, output pixel, filter tap) once and run the channel loop
 * innermost, where memory is contiguous.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { inputGradientConvolution } from './conv2d-backprop-input.js';
import { CallBatch } from './simd/simd-calls.js';
import { deferWork, deferrable } from './deferred-work.js';
import { backendMemory, simdKernels, type SimdKernels } from './simd/simd-kernels.js';
import { WASM, asWasmBackend, dispose, heapF32, input, requireFloat32 } from './wasm-kernel-context.js';

type KernelArgs = Parameters<tf.KernelConfig['kernelFunc']>[0];

function depthwiseBackpropFilter({ inputs, backend: anyBackend, attrs }: KernelArgs): tf.TensorInfo {
  const kernel = 'DepthwiseConv2dNativeBackpropFilter';
  const backend = asWasmBackend(anyBackend);
  const x = input(inputs, 'x', kernel);
  const dy = input(inputs, 'dy', kernel);
  const { strides, dilations, pad, dimRoundingMode, filterShape } = attrs as unknown as tf.DepthwiseConv2dNativeBackpropFilterAttrs;
  requireFloat32(kernel, x, dy);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number], filterShape, strides, dilations, pad, dimRoundingMode, true,
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const multiplier = outChannels / inChannels;
  const top = info.padInfo.top;
  const left = info.padInfo.left;

  const dwInfo = backend.makeOutput(filterShape, 'float32');
  const dw = heapF32(backend, dwInfo);
  const xs = heapF32(backend, x);
  const dys = heapF32(backend, dy);
  if (multiplier === 1) {
    const simd = inChannels % 4 === 0 ? simdKernels(backend) : undefined;
    if (simd !== undefined) filterGradientSimd(backend, simd, x, dy, dwInfo, info);
    else filterGradientMultiplier1(xs, dys, dw, info);
    return dwInfo;
  }
  dw.fill(0);
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        const dyBase = ((b * outHeight + oh) * outWidth + ow) * outChannels;
        for (let fh = 0; fh < filterHeight; fh++) {
          const ih = oh * strideHeight + fh * dilationHeight - top;
          if (ih < 0 || ih >= inHeight) continue;
          for (let fw = 0; fw < filterWidth; fw++) {
            const iw = ow * strideWidth + fw * dilationWidth - left;
            if (iw < 0 || iw >= inWidth) continue;
            const xBase = ((b * inHeight + ih) * inWidth + iw) * inChannels;
            const wBase = (fh * filterWidth + fw) * outChannels;
            for (let c = 0; c < inChannels; c++) {
              const xv = xs[xBase + c]!;
              const o = c * multiplier;
              for (let m = 0; m < multiplier; m++) dw[wBase + o + m] = dw[wBase + o + m]! + xv * dys[dyBase + o + m]!;
            }
          }
        }
      }
    }
  }
  return dwInfo;
}

/** Scratch accumulators (float64) for the filter gradient, grown as needed. */
let filterSums = new Float64Array(0);

/**
 * Calls `visit` once per (b, oh, fh, fw) with the run of output columns whose input column is
 * inside the image: the tap's index, the element offsets of the run's first x and dy values (x
 * steps stride * C elements per column, dy C), and the run's length.
 */
function forEachTapRun(info: tf.backend_util.Conv2DInfo, visit: (tap: number, xFirst: number, dyFirst: number, count: number) => void): void {
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth, filterHeight, filterWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const dyRow = (b * outHeight + oh) * outWidth * C;
      for (let fh = 0; fh < filterHeight; fh++) {
        const ih = oh * strideHeight + fh * dilationHeight - top;
        if (ih < 0 || ih >= inHeight) continue;
        const xRow = (b * inHeight + ih) * inWidth * C;
        for (let fw = 0; fw < filterWidth; fw++) {
          const shift = fw * dilationWidth - left; // iw = ow * strideWidth + shift
          const owLo = shift >= 0 ? 0 : Math.ceil(-shift / strideWidth);
          const owHi = Math.min(outWidth, Math.floor((inWidth - 1 - shift) / strideWidth) + 1);
          if (owLo >= owHi) continue;
          visit(fh * filterWidth + fw, xRow + (owLo * strideWidth + shift) * C, dyRow + owLo * C, owHi - owLo);
        }
      }
    }
  }
}

/**
 * The filter gradient with channel multiplier 1: dW[fh, fw, c] = sum over (b, oh, ow) of
 * x[b, oh*s + fh*d - top, ow*s + fw*d - left, c] * dy[b, oh, ow, c]. For each (b, oh, fh, fw)
 * the output columns whose input column is inside the image are found once (`forEachTapRun`),
 * then the tap's C sums run over them with four channels' sums held in locals (no load and
 * store of the accumulator per product), in float64, written out once at the end.
 */
function filterGradientMultiplier1(xs: Float32Array, dys: Float32Array, dw: Float32Array, info: tf.backend_util.Conv2DInfo): void {
  const C = info.inChannels;
  const taps = info.filterHeight * info.filterWidth;
  if (filterSums.length < taps * C) filterSums = new Float64Array(taps * C);
  const sums = filterSums;
  sums.fill(0, 0, taps * C);
  const c4 = C - (C % 4);
  const xStep = info.strideWidth * C;
  forEachTapRun(info, (tap, xFirst, dyFirst, count) => {
    const sBase = tap * C;
    for (let c = 0; c < c4; c += 4) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let n = 0, xi = xFirst + c, di = dyFirst + c; n < count; n++, xi += xStep, di += C) {
        s0 += xs[xi]! * dys[di]!;
        s1 += xs[xi + 1]! * dys[di + 1]!;
        s2 += xs[xi + 2]! * dys[di + 2]!;
        s3 += xs[xi + 3]! * dys[di + 3]!;
      }
      sums[sBase + c] = sums[sBase + c]! + s0;
      sums[sBase + c + 1] = sums[sBase + c + 1]! + s1;
      sums[sBase + c + 2] = sums[sBase + c + 2]! + s2;
      sums[sBase + c + 3] = sums[sBase + c + 3]! + s3;
    }
    for (let c = c4; c < C; c++) {
      let s0 = 0;
      for (let n = 0, xi = xFirst + c, di = dyFirst + c; n < count; n++, xi += xStep, di += C) s0 += xs[xi]! * dys[di]!;
      sums[sBase + c] = sums[sBase + c]! + s0;
    }
  });
  for (let i = 0; i < taps * C; i++) dw[i] = sums[i]!;
}

/**
 * Calls `visit` once per (fh, fw, b), tap-major, with the block of output rows and columns whose
 * input pixel is inside the image: the tap's index, the element offsets of the block's first x
 * and dy values, the columns per row (x steps stride * C elements per column, dy C), the rows,
 * and the element steps from one row to the next in x and dy.
 */
function forEachTapBlock(
  info: tf.backend_util.Conv2DInfo,
  visit: (tap: number, xFirst: number, dyFirst: number, count: number, rows: number, xRowStep: number, dyRowStep: number) => void,
): void {
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth, filterHeight, filterWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  for (let fh = 0; fh < filterHeight; fh++) {
    const down = fh * dilationHeight - top; // ih = oh * strideHeight + down
    const ohLo = down >= 0 ? 0 : Math.ceil(-down / strideHeight);
    const ohHi = Math.min(outHeight, Math.floor((inHeight - 1 - down) / strideHeight) + 1);
    if (ohLo >= ohHi) continue;
    for (let fw = 0; fw < filterWidth; fw++) {
      const shift = fw * dilationWidth - left; // iw = ow * strideWidth + shift
      const owLo = shift >= 0 ? 0 : Math.ceil(-shift / strideWidth);
      const owHi = Math.min(outWidth, Math.floor((inWidth - 1 - shift) / strideWidth) + 1);
      if (owLo >= owHi) continue;
      for (let b = 0; b < batchSize; b++) {
        const xFirst = ((b * inHeight + ohLo * strideHeight + down) * inWidth + owLo * strideWidth + shift) * C;
        const dyFirst = ((b * outHeight + ohLo) * outWidth + owLo) * C;
        visit(fh * filterWidth + fw, xFirst, dyFirst, owHi - owLo, ohHi - ohLo, strideHeight * inWidth * C, outWidth * C);
      }
    }
  }
}

/**
 * The filter gradient with channel multiplier 1 as SIMD code, for channels in fours: per tap
 * and image, one call sums x * dy over the tap's block of output pixels, each row in float32
 * and the rows in float64 (simd/wat.ts, depthwiseFilterTap). Rows go in the order (b, oh) of
 * `filterGradientMultiplier1`; only the sum within a row differs from it (float32 there).
 */
function filterGradientSimd(backend: BackendWasm, simd: SimdKernels, x: tf.TensorInfo, dy: tf.TensorInfo, dwInfo: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): void {
  const C = info.inChannels;
  const taps = info.filterHeight * info.filterWidth;
  // float64 sums, taps * C of them, as a float32 tensor of twice the length.
  const sumsInfo = backend.makeOutput([2 * taps * C], 'float32');
  const sumsView = heapF32(backend, sumsInfo);
  sumsView.fill(0);
  const sums = sumsView.byteOffset;
  const xAt = heapF32(backend, x).byteOffset;
  const dyAt = heapF32(backend, dy).byteOffset;
  const xStep = info.strideWidth * C * 4;
  const dwAt = heapF32(backend, dwInfo).byteOffset;
  // A tap's calls are recorded one after another: its sums are one thread's to add.
  const batch = new CallBatch(simd, backendMemory(backend)!, deferrable(taps * info.batchSize * info.outHeight * info.outWidth * C));
  forEachTapBlock(info, (tap, xFirst, dyFirst, count, rows, xRowStep, dyRowStep) => {
    batch.add('depthwiseFilterTap', tap, count * rows * C, xAt + 4 * xFirst, dyAt + 4 * dyFirst, count, xStep, sums + 8 * tap * C, C, rows, 4 * xRowStep, 4 * dyRowStep);
  });
  if (batch.deferred) {
    // The float32 gradient from the sums, as the deferred calls' last.
    batch.add('storeScaled', -1, taps * C, sums, dwAt, taps * C, 1, 0, 0);
    deferWork(backend, batch, [dwInfo], [x, dy], [sumsInfo]);
    return;
  }
  batch.run();
  simd.storeScaled(sums, dwAt, taps * C, 1);
  dispose(backend, sumsInfo);
}

function depthwiseBackpropInput({ inputs, backend: anyBackend, attrs }: KernelArgs): tf.TensorInfo {
  const kernel = 'DepthwiseConv2dNativeBackpropInput';
  const backend = asWasmBackend(anyBackend);
  const dy = input(inputs, 'dy', kernel);
  const filter = input(inputs, 'filter', kernel);
  const { strides, dilations, pad, dimRoundingMode, inputShape } = attrs as unknown as tf.DepthwiseConv2dNativeBackpropInputAttrs;
  requireFloat32(kernel, dy, filter);
  const info = tf.backend_util.computeConv2DInfo(
    inputShape, filter.shape as [number, number, number, number], strides, dilations, pad, dimRoundingMode, true,
  );
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const multiplier = outChannels / inChannels;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  if (multiplier === 1 && dilationHeight === 1 && dilationWidth === 1) {
    const simd = inChannels % 4 === 0 ? simdKernels(backend) : undefined;
    if (simd !== undefined) return inputGradientSimd(backend, simd, dy, filter, info, inputShape);
    return viaDepthwiseConv(backend, dy, filter, info);
  }

  const dxInfo = backend.makeOutput(inputShape, 'float32');
  const dx = heapF32(backend, dxInfo);
  const ws = heapF32(backend, filter);
  const dys = heapF32(backend, dy);
  dx.fill(0);
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        const dyBase = ((b * outHeight + oh) * outWidth + ow) * outChannels;
        for (let fh = 0; fh < filterHeight; fh++) {
          const ih = oh * strideHeight + fh * dilationHeight - top;
          if (ih < 0 || ih >= inHeight) continue;
          for (let fw = 0; fw < filterWidth; fw++) {
            const iw = ow * strideWidth + fw * dilationWidth - left;
            if (iw < 0 || iw >= inWidth) continue;
            const xBase = ((b * inHeight + ih) * inWidth + iw) * inChannels;
            const wBase = (fh * filterWidth + fw) * outChannels;
            for (let c = 0; c < inChannels; c++) {
              const o = c * multiplier;
              let sum = 0;
              for (let m = 0; m < multiplier; m++) sum += dys[dyBase + o + m]! * ws[wBase + o + m]!;
              dx[xBase + c] = dx[xBase + c]! + sum;
            }
          }
        }
      }
    }
  }
  return dxInfo;
}

/**
 * The input gradient with multiplier 1 as SIMD passes that scatter each dy row through each
 * filter row into dx (`depthwiseInputRow`), channels in fours; helper threads take whole
 * images. Against XNNPACK's depthwise convolution over a rotated filter and (stride 2) dy
 * spread onto a zero grid, which set up an operator and packed the filter on every call:
 * MobileNetV3-Small@96 batch 32, its 11 depthwise layers: 23.1 -> 8.9 ms a step at one thread,
 * 24.8 -> 8.5 ms at two.
 */
function inputGradientSimd(backend: BackendWasm, simd: SimdKernels, dy: tf.TensorInfo, filter: tf.TensorInfo, info: tf.backend_util.Conv2DInfo, inputShape: number[]): tf.TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels: C, outHeight, outWidth, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const dxInfo = backend.makeOutput(inputShape, 'float32');
  const dx = heapF32(backend, dxInfo);
  dx.fill(0);
  const dxAt = dx.byteOffset;
  const dyAt = heapF32(backend, dy).byteOffset;
  const wAt = heapF32(backend, filter).byteOffset;
  const batch = new CallBatch(simd, backendMemory(backend)!);
  const rowWork = outWidth * filterWidth * C;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const dyRow = dyAt + 4 * ((b * outHeight + oh) * outWidth * C);
      for (let kh = 0; kh < filterHeight; kh++) {
        const ih = oh * strideHeight + kh - top;
        if (ih < 0 || ih >= inHeight) continue;
        batch.add('depthwiseInputRow', b, rowWork, dyRow, wAt + 4 * kh * filterWidth * C, dxAt + 4 * ((b * inHeight + ih) * inWidth * C),
          outWidth, inWidth, filterWidth, strideWidth, left, C);
      }
    }
  }
  batch.run();
  return dxInfo;
}

/** rot180 of a [KH, KW, C, 1] depthwise filter over its spatial axes. */
function rotateDepthwise(backend: BackendWasm, filter: tf.TensorInfo): tf.TensorInfo {
  const [kh, kw, c] = filter.shape as [number, number, number, number];
  const rotated = backend.makeOutput(filter.shape, 'float32');
  const dst = heapF32(backend, rotated);
  const src = heapF32(backend, filter);
  for (let r = 0; r < kh; r++) {
    for (let q = 0; q < kw; q++) {
      const from = ((kh - 1 - r) * kw + (kw - 1 - q)) * c;
      dst.set(src.subarray(from, from + c), (r * kw + q) * c);
    }
  }
  return rotated;
}

/** dx = depthwiseConv2d(dilate(dy, s), rot180(W), stride 1, pad KH-1-top / KW-1-left). */
function viaDepthwiseConv(backend: BackendWasm, dy: tf.TensorInfo, filter: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo {
  const rotated = rotateDepthwise(backend, filter);
  const dx = inputGradientConvolution(backend, 'DepthwiseConv2dNative', dy, rotated, info);
  dispose(backend, rotated);
  return dx;
}

export const depthwiseConv2dBackpropFilterConfig: tf.KernelConfig = {
  kernelName: 'DepthwiseConv2dNativeBackpropFilter',
  backendName: WASM,
  kernelFunc: depthwiseBackpropFilter,
};

export const depthwiseConv2dBackpropInputConfig: tf.KernelConfig = {
  kernelName: 'DepthwiseConv2dNativeBackpropInput',
  backendName: WASM,
  kernelFunc: depthwiseBackpropInput,
};
