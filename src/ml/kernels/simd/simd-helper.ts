/**
 * A helper thread of `simd-calls.ts`: the project's SIMD kernels instantiated on the wasm
 * backend's shared memory, running the tail of each call batch the calling thread posts; or,
 * as the deferred worker (index -1, under SCHED_IDLE), the deferred ring's records.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { Wasm } from '../../../core/compile-wat.js';
import type { SimdKernels } from './simd-kernels.js';
import { DEFERRED_DONE, DEFERRED_POSTED, DEFERRED_TAKEOVER, type HelperData, RANGES, runCalls, runDeferredRecords } from './simd-calls.js';

/** Linux's scheduling policy number for SCHED_IDLE. */
const SCHED_IDLE = 5;

const port = parentPort;
if (!port) throw new Error('simd-helper.ts must run in a worker thread');
const data = workerData as HelperData;
let kernels: SimdKernels;
/**
 * Puts this thread under Linux's SCHED_IDLE policy, with util-linux's chrt (Node has no call
 * for it): a thread id from /proc/thread-self, and the policy read back from its stat line
 * (field 41, 5 = SCHED_IDLE). False elsewhere, without chrt, or when refused.
 */
function idleThisThread(): boolean {
  if (process.platform !== 'linux') return false;
  try {
    const self = readlinkSync('/proc/thread-self');
    const tid = Number(self.split('/').pop());
    if (!Number.isInteger(tid) || tid <= 0 || tid === process.pid) return false;
    execFileSync('chrt', ['--idle', '--pid', '0', String(tid)], { stdio: 'ignore', timeout: 10_000 });
    const stat = readFileSync(`/proc/${self}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38] === String(SCHED_IDLE);
  } catch {
    return false;
  }
}

try {
  kernels = new Wasm.Instance(data.module, { env: { memory: data.memory } }).exports as unknown as SimdKernels;
  port.postMessage({ ready: true, idle: data.index < 0 && idleThisThread() });
} catch (error) {
  port.postMessage({ ready: false, error: error instanceof Error ? error.message : String(error) });
  process.exit(1);
}
const control = new Int32Array(data.control);
if (data.index < 0) {
  // The deferred worker: the ring's records, whenever posted.
  const deferred = new Float64Array(data.deferred);
  for (;;) {
    const posted = Atomics.load(control, DEFERRED_POSTED);
    runDeferredRecords(kernels, control, deferred);
    if (Atomics.load(control, DEFERRED_DONE) !== posted) {
      // Stopped for the calling thread, which runs records now: look again once it is done.
      Atomics.wait(control, DEFERRED_TAKEOVER, 1, 1);
      continue;
    }
    // Returns at once if more were posted since `posted` was read.
    Atomics.wait(control, DEFERRED_POSTED, posted);
  }
}
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
