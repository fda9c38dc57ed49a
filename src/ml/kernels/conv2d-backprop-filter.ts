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
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  WASM, asWasmBackend, dispose, heapF32, input, requireFloat32, requireNhwc, runKernel, viewAs,
} from './wasm-kernel-context.js';

/**
 * Filters with at most this many taps x input channels (a first layer on grey images: 3x3x1)
 * take the im2col path. Measured at batch 64 with a fresh dy per call, 1 / 2 threads:
 * 3x3x1 on 28x28 5.9 / 5.4 ms -> 4.6 / 3.9 ms, but 3x3x3 on 32x32 10.6 / 8.7 -> 11.6 / 9.9 ms
 * and 3x3x8 on 16x16 1.9 / 1.6 -> 4.4 / 4.1 ms, where the convolution rewrite wins.
 */
const IM2COL_MAX_ROWS = 16;

/**
 * dW^T as one XNNPACK matmul: dy^T [CO, P] times cols [P, K], where P = B*OH*OW positions and
 * K = KH*KW*CI filter rows. With few filter rows the convolution rewrite has too few output
 * pixels (K per input channel) to fill XNNPACK's tiles, while cols stays small. cols is the
 * matmul's right-hand side because XNNPACK repacks that operand on every call, and cols is
 * K/CO the size of dy.
 */
function viaIm2col(backend: BackendWasm, x: tf.TensorInfo, dy: tf.TensorInfo, info: tf.backend_util.Conv2DInfo, filterShape: number[]): tf.TensorInfo {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels, filterHeight, filterWidth, strideHeight, strideWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const positions = batchSize * outHeight * outWidth;
  const rows = filterHeight * filterWidth * inChannels;
  const dyT = runKernel('Transpose', backend, { x: viewAs(dy, [positions, outChannels]) }, { perm: [1, 0] });
  const colsInfo = backend.makeOutput([positions, rows], 'float32');
  const cols = heapF32(backend, colsInfo);
  const xs = heapF32(backend, x);
  let p = 0;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let ow = 0; ow < outWidth; ow++) {
        for (let kh = 0; kh < filterHeight; kh++) {
          const ih = oh * strideHeight - top + kh;
          for (let kw = 0; kw < filterWidth; kw++) {
            const iw = ow * strideWidth - left + kw;
            if (ih < 0 || ih >= inHeight || iw < 0 || iw >= inWidth) {
              cols.fill(0, p, p + inChannels);
              p += inChannels;
              continue;
            }
            const from = ((b * inHeight + ih) * inWidth + iw) * inChannels;
            for (let ci = 0; ci < inChannels; ci++) cols[p++] = xs[from + ci]!;
          }
        }
      }
    }
  }
  const dwT = runKernel('BatchMatMul', backend, {
    a: viewAs(dyT, [1, outChannels, positions]),
    b: viewAs(colsInfo, [1, positions, rows]),
  }, { transposeA: false, transposeB: false });
  dispose(backend, dyT, colsInfo);
  const dw = runKernel('Transpose', backend, { x: viewAs(dwT, [outChannels, rows]) }, { perm: [1, 0] });
  dispose(backend, dwT);
  return viewAs(dw, filterShape);
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
  if (filterHeight * filterWidth * inChannels <= IM2COL_MAX_ROWS) return viaIm2col(backend, x, dy, info, filterShape);
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
