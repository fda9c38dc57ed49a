/**
 * Conv2DBackpropInput for the wasm backend, replacing its scalar C++ loop (which profiled at
 * ~11x the cost of the forward convolution on a 28x28 small CNN).
 *
 * The input gradient of a convolution is a "full" convolution of dy with the filter rotated by
 * 180 degrees and its in/out channels swapped, so it runs in XNNPACK's forward convolution:
 *   dx = conv2d(dilate(dy, s), rot180(W)^T, stride 1, pad KH-1-top / KW-1-left)
 * For stride > 1, dy is first spread onto a zero grid (`dilate`), which costs s*s more
 * multiply-adds on zeros but still beats a scalar loop by far.
 *
 * Stride-1 convolutions with input channels in eights take SIMD passes instead (`tapGradient`):
 * per image and filter tap, dx's shifted window += dy times the tap's transposed filter, over
 * only the pixels the tap reaches, where the full convolution also multiplies the zero border
 * (3x3 on an 11x11 dy: 169 output pixels of 9 taps against 121 of them). small-cnn's 3x3
 * 32->64 layer on [64,13,13,32]: 13 -> ~10 ms on one thread.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { CallBatch } from './simd/simd-calls.js';
import { backendMemory, simdKernels } from './simd/simd-kernels.js';
import {
  WASM, asWasmBackend, dispose, heapF32, input, requireFloat32, requireNhwc, runKernel,
} from './wasm-kernel-context.js';

/** rot180 over the spatial axes and swap in/out channels: [KH,KW,CI,CO] -> [KH,KW,CO,CI]. */
function flipFilter(backend: BackendWasm, filter: tf.TensorInfo): tf.TensorInfo {
  const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
  const flipped = backend.makeOutput([kh, kw, co, ci], 'float32');
  const dst = heapF32(backend, flipped);
  const src = heapF32(backend, filter);
  for (let r = 0; r < kh; r++) {
    for (let c = 0; c < kw; c++) {
      const from = ((kh - 1 - r) * kw + (kw - 1 - c)) * ci * co;
      const to = (r * kw + c) * co * ci;
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) dst[to + o * ci + i] = src[from + i * co + o]!;
      }
    }
  }
  return flipped;
}

/** Places dy[b,oh,ow,:] at (oh*sh, ow*sw) of a zero grid [B, (OH-1)*sh+1, (OW-1)*sw+1, C]. */
function dilate(backend: BackendWasm, dy: tf.TensorInfo, sh: number, sw: number): tf.TensorInfo {
  const [b, oh, ow, c] = dy.shape as [number, number, number, number];
  const hd = (oh - 1) * sh + 1;
  const wd = (ow - 1) * sw + 1;
  const out = backend.makeOutput([b, hd, wd, c], 'float32');
  const dst = heapF32(backend, out);
  const src = heapF32(backend, dy);
  dst.fill(0);
  for (let n = 0; n < b; n++) {
    for (let r = 0; r < oh; r++) {
      for (let q = 0; q < ow; q++) {
        const from = ((n * oh + r) * ow + q) * c;
        dst.set(src.subarray(from, from + c), ((n * hd + r * sh) * wd + q * sw) * c);
      }
    }
  }
  return out;
}

/**
 * The input gradient as the "full" forward convolution `kernel` (Conv2D, or DepthwiseConv2dNative
 * for a depthwise layer) of dy with the already rotated filter: dy spread onto a zero grid for
 * stride > 1, stride 1, padding KH-1-top above and KW-1-left on the left, and whatever brings the
 * output to the input's size below and on the right.
 */
export function inputGradientConvolution(
  backend: BackendWasm, kernel: 'Conv2D' | 'DepthwiseConv2dNative', dy: tf.TensorInfo, rotated: tf.TensorInfo, info: tf.backend_util.Conv2DInfo,
): tf.TensorInfo {
  const { strideHeight, strideWidth } = info;
  const spread = strideHeight === 1 && strideWidth === 1 ? dy : dilate(backend, dy, strideHeight, strideWidth);
  const top = info.filterHeight - 1 - info.padInfo.top;
  const left = info.filterWidth - 1 - info.padInfo.left;
  const bottom = info.inHeight + info.filterHeight - 1 - spread.shape[1]! - top;
  const right = info.inWidth + info.filterWidth - 1 - spread.shape[2]! - left;
  const dx = runKernel(kernel, backend, { x: spread, filter: rotated }, {
    strides: [1, 1], dilations: [1, 1], pad: [[0, 0], [top, bottom], [left, right], [0, 0]], dataFormat: 'NHWC',
  });
  if (spread !== dy) dispose(backend, spread);
  return dx;
}

/**
 * dx for a stride-1, undilated convolution with input channels in eights, as SIMD passes
 * (simd/wat.ts, tapInputRows): for each image (one thread's group) and tap (kh, kw), the block
 * of dy pixels whose input pixel lies inside the image adds dy * W[kh, kw]^T into dx. Undefined
 * where it does not apply.
 */
function tapGradient(backend: BackendWasm, dy: tf.TensorInfo, filter: tf.TensorInfo, info: tf.backend_util.Conv2DInfo): tf.TensorInfo | undefined {
  const { batchSize, inHeight, inWidth, inChannels: ci, outHeight, outWidth, outChannels: co, filterHeight, filterWidth } = info;
  if (info.strideHeight !== 1 || info.strideWidth !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1 || ci % 8 !== 0) return undefined;
  const simd = simdKernels(backend);
  if (simd === undefined) return undefined;
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
  const dyAt = heapF32(backend, dy).byteOffset;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const batch = new CallBatch(simd, backendMemory(backend)!);
  const pointwise = taps === 1 && top === 0 && left === 0 && outHeight === inHeight && outWidth === inWidth;
  for (let b = 0; b < batchSize; b++) {
    if (pointwise) {
      // A 1x1 layer: the image's pixels are one run in dy and in dx.
      const pixels = outHeight * outWidth;
      batch.add('tapInputRows', b, pixels * co * ci, dyAt + 4 * b * pixels * co, wt.byteOffset, dx.byteOffset + 4 * b * pixels * ci, pixels, 1, co, ci, 0, 0);
      continue;
    }
    for (let kh = 0; kh < filterHeight; kh++) {
      // ih = oh + kh - top must lie in [0, inHeight).
      const ohLo = Math.max(0, top - kh);
      const ohHi = Math.min(outHeight, inHeight + top - kh);
      if (ohLo >= ohHi) continue;
      for (let kw = 0; kw < filterWidth; kw++) {
        const owLo = Math.max(0, left - kw);
        const owHi = Math.min(outWidth, inWidth + left - kw);
        if (owLo >= owHi) continue;
        const count = owHi - owLo;
        const rows = ohHi - ohLo;
        const dyFirst = ((b * outHeight + ohLo) * outWidth + owLo) * co;
        const dxFirst = ((b * inHeight + ohLo + kh - top) * inWidth + owLo + kw - left) * ci;
        batch.add('tapInputRows', b, count * rows * co * ci, dyAt + 4 * dyFirst, wt.byteOffset + 4 * (kh * filterWidth + kw) * co * ci, dx.byteOffset + 4 * dxFirst,
          count, rows, co, ci, 4 * outWidth * co, 4 * inWidth * ci);
      }
    }
  }
  batch.run();
  dispose(backend, wtInfo);
  return dxInfo;
}

function conv2dBackpropInput({ inputs, backend: anyBackend, attrs }: Parameters<tf.KernelConfig['kernelFunc']>[0]): tf.TensorInfo {
  const kernel = 'Conv2DBackpropInput';
  const backend = asWasmBackend(anyBackend);
  const dy = input(inputs, 'dy', kernel);
  const filter = input(inputs, 'filter', kernel);
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as tf.Conv2DBackpropInputAttrs;
  requireNhwc(kernel, dataFormat);
  requireFloat32(kernel, dy, filter);

  const info = tf.backend_util.computeConv2DInfo(
    inputShape, filter.shape as [number, number, number, number], strides, 1, pad, dimRoundingMode, false,
  );
  const viaTaps = tapGradient(backend, dy, filter, info);
  if (viaTaps !== undefined) return viaTaps;
  const flipped = flipFilter(backend, filter);
  const dx = inputGradientConvolution(backend, 'Conv2D', dy, flipped, info);
  dispose(backend, flipped);
  return dx;
}

export const conv2dBackpropInputConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: WASM,
  kernelFunc: conv2dBackpropInput,
};
