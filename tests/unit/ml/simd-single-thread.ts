/** Run as a child by simd-kernels.test.ts: the single-threaded wasm backend, and whether the SIMD kernels are live on it. */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { initBackend, wasmThreadsInUse } from '../../../src/ml/backend.js';
import { hardActivation } from '../../../src/ml/kernels/hard-activations.js';
import { splitFilterGradients } from './split-filter-gradients.js';
import { simdKernels, simdUnavailableReason } from '../../../src/ml/kernels/simd/simd-kernels.js';

await initBackend('wasm', { wasmThreads: 1 });
const x = tf.tensor1d([-4, -1, 0, 2, 5]);
const y = hardActivation('hard-swish', x);
console.log(JSON.stringify({
  threads: wasmThreadsInUse(),
  simd: simdKernels(tf.backend() as BackendWasm) !== undefined,
  reason: simdUnavailableReason() ?? null,
  hardSwish: Array.from(y.dataSync()),
  filterGradients: splitFilterGradients().map((g) => Array.from(g)),
}));
