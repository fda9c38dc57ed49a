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
 * Stride-1 convolutions with input channels in eights take SIMD tap passes instead
 * (conv2d-taps.ts): per image and filter tap, dx's shifted window += dy times the tap's
 * transposed filter, over only the pixels the tap reaches, where the full convolution also
 * multiplies the zero border (3x3 on an 11x11 dy: 169 output pixels of 9 taps against 121).
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { tapInputGradient } from './conv2d-taps.js';
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
  const viaTaps = tapInputGradient(backend, dy, filter, info);
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
