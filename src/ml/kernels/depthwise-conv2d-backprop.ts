/**
 * The two depthwise-convolution gradients the wasm backend lacks, as typed-array loops over the
 * wasm heap. A depthwise filter touches each channel separately, so there is no matmul to hand
 * to XNNPACK; the loops visit (batch, output pixel, filter tap) once and run the channel (and
 * channel-multiplier) loop innermost, where memory is contiguous.
 */
import * as tf from '@tensorflow/tfjs';
import { WASM, asWasmBackend, heapF32, input, requireFloat32 } from './wasm-kernel-context.js';

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
