/**
 * Installs this project's wasm kernels. Two kinds:
 * - missing: the backend has no kernel, so training a CNN would throw
 *   (Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropFilter/Input);
 * - replaced: the backend has one, but a scalar loop that dominated the training profile
 *   (Conv2DBackpropInput, MaxPoolGrad, transposed BatchMatMul, Sum and Mean over consecutive
 *   axes before the last, per-channel FusedBatchNorm, Identity without a copy, Add of a bias
 *   to [..., C], stride-1 Conv2D as tap passes).
 * Call after the wasm backend is initialised: the backend's own kernels must have run their
 * setup (which binds their C functions) before we capture them for delegation.
 */
import * as tf from '@tensorflow/tfjs';
import { batchMatMulConfig } from './batch-mat-mul.js';
import { biasAddConfig, installReluGradient } from './bias-relu.js';
import { fusedBatchNormConfig } from './batch-norm.js';
import { installBatchNormGradient } from './batch-norm-grad.js';
import { conv2dBackpropFilterConfig } from './conv2d-backprop-filter.js';
import { conv2dBackpropInputConfig } from './conv2d-backprop-input.js';
import { conv2dConfig } from './conv2d-taps.js';
import { depthwiseConv2dBackpropFilterConfig, depthwiseConv2dBackpropInputConfig } from './depthwise-conv2d-backprop.js';
import { identityConfig } from './identity.js';
import { maxPoolGradConfig } from './max-pool-grad.js';
import { installMeanGradient } from './mean-grad.js';
import { meanConfig, sumConfig } from './sum-leading.js';
import { WASM, captureOriginal } from './wasm-kernel-context.js';

export const PROJECT_WASM_KERNELS: readonly tf.KernelConfig[] = [
  conv2dBackpropFilterConfig,
  conv2dBackpropInputConfig,
  maxPoolGradConfig,
  batchMatMulConfig,
  depthwiseConv2dBackpropFilterConfig,
  depthwiseConv2dBackpropInputConfig,
  sumConfig,
  meanConfig,
  fusedBatchNormConfig,
  identityConfig,
  biasAddConfig,
  conv2dConfig,
];

const installed = new Set<string>();

/** Registers every project kernel on 'wasm' once; returns the kernel names now ours. */
export function registerWasmKernels(configs: readonly tf.KernelConfig[] = PROJECT_WASM_KERNELS): string[] {
  installBatchNormGradient(); // FusedBatchNorm's gradient without Tile, fused on wasm
  installMeanGradient(); // Mean's gradient without a full-size ones tensor
  installReluGradient(); // ReLU's gradient as one pass instead of Step, Cast and Multiply
  for (const config of configs) {
    if (installed.has(config.kernelName)) continue;
    captureOriginal(config.kernelName);
    if (tf.getKernel(config.kernelName, WASM) !== undefined) tf.unregisterKernel(config.kernelName, WASM);
    tf.registerKernel(config);
    installed.add(config.kernelName);
  }
  return [...installed];
}
