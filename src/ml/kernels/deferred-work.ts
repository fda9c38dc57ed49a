/**
 * Weight gradients computed on a helper thread while the calling thread goes on with the rest
 * of the backward pass.
 *
 * In a training step a layer's weight gradient is read only at the end (by the optimizer), yet
 * the kernel that makes it runs where the tape reaches the layer, on the calling thread (split
 * with the helpers when large). On two threads about half of a MobileNetV3-Small step ran on one
 * core: batch norm, activations and tfjs's elementwise kernels, which the helper cannot share. A
 * kernel that can defer (`deferWork`) posts its SIMD calls to the first helper's ring
 * (`CallBatch.runDeferred`) and returns its output at once, its values still being written.
 *
 * The output must not be read, and what the calls read and write must not be freed, before the
 * helper is done. So, once anything is deferred, the wasm backend and the engine wait for the
 * helper (`settle`) where data is touched:
 *   - `engine.runKernel` with a pending output among the inputs (every op);
 *   - `backend.typedArrayFromHeap` (our kernels and the fused optimizer read the heap that way),
 *     `readSync` and `read` (dataSync, data) on a pending output;
 *   - `backend.disposeData` of a pending output, or the last reference to a tensor the calls read.
 * A wait does not sleep: the waiting thread runs the records the worker has not reached
 * (simd-calls.ts, `waitForDeferred`). Results are the same bits as the calls run in place: the
 * same calls, in the same order, each on one thread. `setDeferWork(false)` runs them in place;
 * so does a kernel while the worker is behind (MAX_DEFERRED_BACKLOG) or starved of CPU time (a
 * busy machine), or where it cannot run under SCHED_IDLE.
 *
 * MobileNetV3-Small@96, batch 32, two threads, deferral on and off alternating in one process:
 * the filter gradients' kernels take ~4 ms of the calling thread's time a step instead of ~17,
 * and a training step with Adam 107.1 against 116.4 ms (medians of five rounds; bench/defer-work.ts
 * measures it). Dense layers' dW = x^T dy deferred the same way made that step slower (116.3 ms),
 * so BatchMatMul does not defer.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { type CallBatch, deferredDone, waitForDeferred } from './simd/simd-calls.js';
import { type WasmMemory, backendMemory } from './simd/simd-kernels.js';

let enabled = true;

/** Turns deferral on or off (off: deferrable batches run in place); returns the previous setting. */
export function setDeferWork(on: boolean): boolean {
  const previous = enabled;
  enabled = on;
  return previous;
}

/** A CallBatch's `deferWork` for a kernel's batch of `work` multiply-adds: the work while deferral is on, else 0. */
export function deferrable(work: number): number {
  return enabled ? work : 0;
}

interface Pending {
  /** The backend whose heap the deferred calls use, and its memory. */
  backend: BackendWasm;
  memory: WasmMemory;
  /** Tickets by the data they wait for: outputs (any use waits) and inputs (freeing waits). */
  writes: Map<object, number>;
  reads: Map<object, number>;
  /** Scratch tensors to free once their ticket is done, oldest first. */
  scratch: { ticket: number; infos: tf.TensorInfo[] }[];
  latest: number;
}

let pending: Pending | undefined;
const hooked = new WeakSet<object>();

/** Frees done scratch and forgets done entries. */
function sweep(p: Pending): void {
  for (const map of [p.writes, p.reads]) {
    for (const [id, ticket] of map) if (deferredDone(p.memory, ticket)) map.delete(id);
  }
  while (p.scratch.length > 0 && deferredDone(p.memory, p.scratch[0]!.ticket)) {
    for (const info of p.scratch.shift()!.infos) p.backend.disposeData(info.dataId);
  }
}

/** Waits for the deferred calls up to `ticket`, then sweeps. */
function settle(p: Pending, ticket: number): void {
  try {
    waitForDeferred(p.memory, ticket);
  } finally {
    sweep(p);
  }
}

/** Waits where `dataId` is a pending output, or (`freeing`) read by pending calls. */
function waitFor(dataId: object, freeing: boolean): void {
  const p = pending;
  if (p === undefined) return;
  const ticket = p.writes.get(dataId) ?? (freeing ? p.reads.get(dataId) : undefined);
  if (ticket !== undefined) settle(p, ticket);
}

/** Waits before `dataId` is used, where it is a pending output. */
function beforeUse(dataId: object): void {
  if (pending !== undefined && pending.writes.size > 0) waitFor(dataId, false);
}

type DataIdHolder = { dataId: object } | undefined;

/** Installs the waits on `backend` and the engine, once each. */
function hook(backend: BackendWasm): void {
  const engine = tf.engine() as unknown as { runKernel(name: string, inputs: Record<string, DataIdHolder>, attrs?: unknown): unknown };
  if (!hooked.has(engine)) {
    hooked.add(engine);
    const runKernel = engine.runKernel.bind(engine);
    engine.runKernel = (name, inputs, attrs) => {
      if (pending !== undefined && pending.writes.size > 0) {
        for (const t of Object.values(inputs)) if (t !== undefined && t !== null) beforeUse(t.dataId);
      }
      return runKernel(name, inputs, attrs);
    };
  }
  if (hooked.has(backend)) return;
  hooked.add(backend);
  const b = backend as unknown as {
    typedArrayFromHeap(info: tf.TensorInfo): unknown;
    readSync(dataId: object, ...rest: unknown[]): unknown;
    read(dataId: object, ...rest: unknown[]): unknown;
    disposeData(dataId: object, force?: boolean): boolean;
    refCount(dataId: object): number;
  };
  const typedArrayFromHeap = b.typedArrayFromHeap.bind(b);
  const readSync = b.readSync.bind(b);
  const read = b.read.bind(b);
  const disposeData = b.disposeData.bind(b);
  b.typedArrayFromHeap = (info) => {
    beforeUse(info.dataId);
    return typedArrayFromHeap(info);
  };
  b.readSync = (dataId, ...rest) => {
    beforeUse(dataId);
    return readSync(dataId, ...rest);
  };
  b.read = (dataId, ...rest) => {
    beforeUse(dataId);
    return read(dataId, ...rest);
  };
  b.disposeData = (dataId, force = false) => {
    const p = pending;
    if (p !== undefined && (p.writes.has(dataId) || (p.reads.has(dataId) && (force || b.refCount(dataId) <= 1)))) waitFor(dataId, true);
    return disposeData(dataId, force);
  };
}

/**
 * Runs `batch` (made with `defer` on) deferred: `writes` (its outputs) and `reads` (what its
 * calls read) are held as described above, and `scratch` is freed once the calls are done.
 * A batch that is not deferred (no helper threads) runs in place and frees `scratch` now.
 */
export function deferWork(backend: BackendWasm, batch: CallBatch, writes: tf.TensorInfo[], reads: tf.TensorInfo[], scratch: tf.TensorInfo[] = []): void {
  const memory = backendMemory(backend);
  if (!batch.deferred || memory === undefined) {
    batch.run();
    for (const info of scratch) backend.disposeData(info.dataId);
    return;
  }
  hook(backend);
  if (pending?.memory !== memory) {
    if (pending !== undefined) settle(pending, pending.latest);
    pending = { backend, memory, writes: new Map(), reads: new Map(), scratch: [], latest: 0 };
  }
  const p = pending;
  sweep(p);
  const ticket = batch.runDeferred();
  p.latest = ticket;
  for (const info of writes) p.writes.set(info.dataId, ticket);
  for (const info of reads) p.reads.set(info.dataId, ticket);
  if (scratch.length > 0) p.scratch.push({ ticket, infos: scratch });
}
