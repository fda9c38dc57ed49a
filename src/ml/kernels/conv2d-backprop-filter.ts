/**
 * Conv2DBackpropFilter for the wasm backend (which has none).
 *
 * dW[kh,kw,ci,co] = sum over (b,oh,ow) of x[b, oh*s+kh-top, ow*s+kw-left, ci] * dy[b,oh,ow,co].
 * Read with ci as the batch, b as the input channel and dy as an (OH x OW) filter, that sum is
 * itself a forward convolution whose stride becomes a dilation:
 *   x' = x transposed to [CI, H, W, B],  f' = dy transposed to [OH, OW, B, CO]
 *   conv2d(x', f', stride 1, dilation s, explicit pad) -> [CI, KH, KW, CO] -> [KH, KW, CI, CO]
 * so the arithmetic runs in XNNPACK's convolution (SIMD, and threaded when threads are on),
 * with no im2col buffer. Measured on a 28x28 small CNN this is ~1.3x faster than im2col in JS
 * followed by an XNNPACK matmul.
 */
import * as tf from '@tensorflow/tfjs';
import {
  WASM, asWasmBackend, dispose, input, requireFloat32, requireNhwc, runKernel,
} from './wasm-kernel-context.js';

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
