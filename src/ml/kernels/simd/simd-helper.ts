/**
 * A helper thread of `simd-calls.ts`: the project's SIMD kernels instantiated on the wasm
 * backend's shared memory, running the tail of each call batch the calling thread posts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Wasm } from '../../../core/compile-wat.js';
import type { SimdKernels } from './simd-kernels.js';
import { type HelperData, RANGES, runCalls } from './simd-calls.js';

const port = parentPort;
if (!port) throw new Error('simd-helper.ts must run in a worker thread');
const data = workerData as HelperData;
let kernels: SimdKernels;
try {
  kernels = new Wasm.Instance(data.module, { env: { memory: data.memory } }).exports as unknown as SimdKernels;
  port.postMessage({ ready: true });
} catch (error) {
  port.postMessage({ ready: false, error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}
const control = new Int32Array(data.control);
const records = new Float64Array(data.records);
const done = 1 + data.index;
let seen = Atomics.load(control, 0);
// Blocks this thread between batches; the event loop has nothing else to do here.
for (;;) {
  Atomics.wait(control, 0, seen);
  seen = Atomics.load(control, 0);
  const from = control[RANGES + 2 * data.index]!;
  const to = control[RANGES + 2 * data.index + 1]!;
  try {
    runCalls(kernels, records, from, to);
    Atomics.store(control, done, seen);
  } catch {
    Atomics.store(control, done, -seen);
  }
  Atomics.notify(control, done);
}
