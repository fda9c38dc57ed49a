/**
 * Identity on wasm without a copy: the output shares the input's heap buffer, its reference
 * count raised, as the backend's own Reshape (and the cpu backend's Identity) does. The wasm
 * backend's Identity copies the data instead, and tfjs-core runs Identity for every tensor a
 * kernel saves for its gradient (`saveTensorsForBackwardMode`): ~960 copies per MobileNetV3-Small
 * training step, 6 % of its kernel time. Sharing is safe because no kernel writes into its
 * inputs; the fused optimizer changes a slot in place only while nothing else holds its buffer.
 */
import * as tf from '@tensorflow/tfjs';
import { asWasmBackend, runKernel, WASM } from './wasm-kernel-context.js';

function identityShared({ inputs, backend }: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const x = inputs.x;
  if (x === undefined) throw new Error('Identity needs an input x');
  const wasm = asWasmBackend(backend);
  // Strings live outside the heap: the backend's own kernel copies them.
  if (x.dtype === 'string') return runKernel('Identity', wasm, inputs);
  wasm.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

export const identityConfig: tf.KernelConfig = {
  kernelName: 'Identity',
  backendName: WASM,
  kernelFunc: identityShared as tf.KernelFunc,
};
