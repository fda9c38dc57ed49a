/**
 * Batches of SIMD kernel calls that helper threads share with the calling thread.
 *
 * The project's SIMD kernels run on the thread that calls them, while XNNPACK's kernels use
 * every wasm thread: on two threads the single-threaded kernels were a quarter of a
 * MobileNetV3-Small training step. When the wasm backend runs threaded its memory is a
 * SharedArrayBuffer, so helper worker threads (`simd-helper.ts`) instantiate the same kernels on
 * the same memory. A kernel that can split its work records its calls in a `CallBatch`; `run`
 * hands a tail of them to the helpers, runs the head itself, and waits for the helpers (the
 * kernels are synchronous, and the wasm pthreads are idle meanwhile).
 *
 * Results are bit-identical to running every call on one thread: calls are split only between
 * groups (a group = the calls that write one output region, in order), and each group runs
 * whole, in order, on one thread.
 *
 * A batch can also be deferred (`CallBatch.deferred`): its calls go to a ring of records that
 * a thread of its own, the deferred worker, works through in order while the calling thread goes
 * on, and `runDeferred` returns a ticket that `waitForDeferred` waits for. Whoever posts deferred
 * work must keep what it reads and writes alive and unread until then (`deferred-work.ts` does
 * so for tensors); a thread that waits runs the rest of the records up to its ticket itself. The
 * deferred worker runs under Linux's SCHED_IDLE policy: the scheduler
 * counts a core that runs only it as idle, so a waking helper or XNNPACK pool thread takes that
 * core at once. At the same priority it held up XNNPACK's small threaded kernels 2-4x; at nice
 * 19 waking helpers still queued behind it (a MobileNetV3-Small step's split batches ~5 ms
 * slower). Where the policy cannot be set (not Linux, no chrt), nothing is deferred.
 */
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../../../core/module-worker.js';
import type { SimdKernels, WasmMemory } from './simd-kernels.js';

/** The kernels a batch may call, by id. */
export const CALLABLE = ['pointwiseFilterGrad', 'depthwiseFilterTap', 'depthwiseInputRow', 'tapInputRows', 'rowDots', 'storeScaled'] as const;
export type CallableKernel = (typeof CALLABLE)[number];

/** Doubles per recorded call: kernel id, then up to 9 arguments. */
export const RECORD = 10;
/** Calls a batch holds before it runs what it has. */
const CAPACITY = 32768;
/**
 * Control words: [0] sequence posted, [1 + h] sequence helper h finished (negated: failed), the
 * deferred ring's words (records posted, records done, a failure flag, the calling thread's
 * takeover request, whether the worker is inside a record), and from RANGES on per helper:
 * from, to.
 */
export const CONTROL_WORDS = 64;
export const DEFERRED_POSTED = 17;
export const DEFERRED_DONE = 18;
export const DEFERRED_FAILED = 19;
export const DEFERRED_TAKEOVER = 20;
export const DEFERRED_BUSY = 21;
export const RANGES = CONTROL_WORDS / 2;
/** Records the deferred ring holds (a power of two: its counters wrap at 2^32). */
export const DEFERRED_CAPACITY = 32768;
const DEFERRED_MASK = DEFERRED_CAPACITY - 1;
/**
 * Deferred work is recorded in calls of about this much work (multiply-adds), at most
 * DEFERRED_MAX_SLICES of them per kernel, so results are published as they come.
 */
const DEFERRED_SLICE_WORK = 4_000_000;
const DEFERRED_MAX_SLICES = 16;
/** Helpers the control words have room for. */
const MAX_HELPERS = 15;
/**
 * Below this much work (multiply-adds) a batch runs on the calling thread alone: a helper
 * sleeping in Atomics.wait takes tens of microseconds to start. Inside a training step that
 * start came late for as long as XNNPACK's pool thread spun on the other core after each of its
 * kernels, and splits paid only from 40M (small-cnn's 3x3 32->64 filter gradient, 142M: ~12.5 ->
 * 7.5 ms). With the pool's spin cut short (wasm-pool-spin.ts), MobileNetV3-Small@96's gradient
 * step at batch 32 on two threads, thresholds alternating in one process: 128.7-130.1 ms from
 * 40M, 115.1-123.3 ms from 1M (its batches are 1-33M); from 250k or 0 no different from 1M.
 */
let MIN_SPLIT_WORK = 1_000_000;

/** Sets the work from which batches split across helper threads (tests drive small cases through the split path); returns the previous value. */
export function setMinSplitWork(work: number): number {
  const previous = MIN_SPLIT_WORK;
  MIN_SPLIT_WORK = work;
  return previous;
}
/** How long the calling thread waits for a helper before it gives up (the helper is gone or stuck). */
const HELPER_TIMEOUT_MS = 60_000;

/** Runs records [from, to) of `records` on `kernels`. */
export function runCalls(kernels: SimdKernels, records: Float64Array, from: number, to: number): void {
  const pointwise = kernels.pointwiseFilterGrad;
  const depthwise = kernels.depthwiseFilterTap;
  const depthwiseInput = kernels.depthwiseInputRow;
  const tapInput = kernels.tapInputRows;
  const rowDots = kernels.rowDots;
  for (let r = from, at = from * RECORD; r < to; r++, at += RECORD) {
    switch (records[at]) {
      case 0:
        pointwise(records[at + 1]!, records[at + 2]!, records[at + 3]!, records[at + 4]!, records[at + 5]!, records[at + 6]!, records[at + 7]!, records[at + 8]!);
        break;
      case 1:
        depthwise(records[at + 1]!, records[at + 2]!, records[at + 3]!, records[at + 4]!, records[at + 5]!, records[at + 6]!, records[at + 7]!, records[at + 8]!, records[at + 9]!);
        break;
      case 2:
        depthwiseInput(records[at + 1]!, records[at + 2]!, records[at + 3]!, records[at + 4]!, records[at + 5]!, records[at + 6]!, records[at + 7]!, records[at + 8]!, records[at + 9]!);
        break;
      case 3:
        tapInput(records[at + 1]!, records[at + 2]!, records[at + 3]!, records[at + 4]!, records[at + 5]!, records[at + 6]!, records[at + 7]!, records[at + 8]!, records[at + 9]!);
        break;
      case 4:
        rowDots(records[at + 1]!, records[at + 2]!, records[at + 3]!, records[at + 4]!, records[at + 5]!, records[at + 6]!, records[at + 7]!, records[at + 8]!);
        break;
      case 5:
        kernels.storeScaled(records[at + 1]!, records[at + 2]!, records[at + 3]!, records[at + 4]!);
        break;
      default:
        throw new Error(`SIMD call batch: unknown kernel id ${records[at]}`);
    }
  }
}

/** What a helper thread starts with. */
export interface HelperData {
  module: object;
  memory: WasmMemory;
  control: SharedArrayBuffer;
  records: SharedArrayBuffer;
  deferred: SharedArrayBuffer;
  /** A helper's index, or -1 for the deferred worker. */
  index: number;
}

/**
 * The deferred worker's round: runs every record posted and not yet done, one at a time,
 * publishing its progress after each. A failing record sets the failure flag (the calling
 * thread reports it) and the ring moves on.
 */
export function runDeferredRecords(kernels: SimdKernels, control: Int32Array, records: Float64Array): void {
  for (;;) {
    // Inside a record from here until BUSY is cleared, unless the calling thread has asked to
    // take over: it sets TAKEOVER, then reads BUSY; this thread sets BUSY, then reads TAKEOVER
    // (sequentially consistent), so at most one of them runs records.
    Atomics.store(control, DEFERRED_BUSY, 1);
    const done = Atomics.load(control, DEFERRED_DONE);
    if (Atomics.load(control, DEFERRED_TAKEOVER) !== 0 || done === Atomics.load(control, DEFERRED_POSTED)) break;
    runDeferredRecord(kernels, control, records, done);
    Atomics.store(control, DEFERRED_BUSY, 0);
    if (Atomics.load(control, DEFERRED_TAKEOVER) !== 0) Atomics.notify(control, DEFERRED_BUSY);
  }
  Atomics.store(control, DEFERRED_BUSY, 0);
  Atomics.notify(control, DEFERRED_BUSY);
}

/** Runs deferred record `done` and publishes it done; a failure sets the failure flag. */
function runDeferredRecord(kernels: SimdKernels, control: Int32Array, records: Float64Array, done: number): void {
  const slot = done & DEFERRED_MASK;
  try {
    runCalls(kernels, records, slot, slot + 1);
  } catch {
    Atomics.store(control, DEFERRED_FAILED, 1);
  }
  Atomics.store(control, DEFERRED_DONE, (done + 1) | 0);
}

interface Helpers {
  memory: WasmMemory;
  workers: Worker[];
  control: Int32Array;
  records: Float64Array;
  deferred: Float64Array;
  /** Whether the deferred worker runs under SCHED_IDLE (else nothing is deferred). */
  idle: boolean;
  sequence: number;
  /** Deferred records posted so far (mod 2^32); the ring's write position. */
  posted: number;
  /** Deferred batches not known to be done: their last record's ticket and their work. */
  jobs: { ticket: number; work: number }[];
  /** The calling thread's kernels, for the deferred records it takes over (set by the first deferred batch). */
  local: SimdKernels | undefined;
  /** performance.now() before which nothing is deferred (the worker was found starved). */
  suspendedUntil: number;
}

/**
 * A takeover that waited longer than this for the worker to leave its record (one record is
 * well under a millisecond of work) means the worker is starved of CPU time: the machine is
 * busy. Deferral then stops for SUSPEND_MS, and starts again after. With two busy processes on
 * this 2-core machine, a MobileNetV3-Small step took 2.4-3.2 s deferring with the calling thread
 * waiting for the worker, 0.2-0.7 s with takeovers alone, against 0.28-0.30 s in place.
 */
const STARVED_WAIT_MS = 2;
const SUSPEND_MS = 1000;

/**
 * Deferred work (multiply-adds) not yet done, counting the batch at hand, past which batches run
 * in place instead: beyond it the deferred worker, which gets only the idle share of a core,
 * falls behind, and the step ends waiting for it. It also keeps large batches (small-cnn's 3x3
 * 32->64 filter gradient, 142M) splitting across the helpers: deferred with nothing else to
 * hide behind, small-cnn's step took 1.17x the time.
 */
let MAX_DEFERRED_BACKLOG = 40_000_000;

/** Sets the backlog from which batches are no longer deferred (0: none are); returns the previous value. */
export function setMaxDeferredBacklog(work: number): number {
  const previous = MAX_DEFERRED_BACKLOG;
  MAX_DEFERRED_BACKLOG = work;
  return previous;
}

/** Whether deferred record counter `done` has reached `ticket` (both counters mod 2^32). */
function reached(done: number, ticket: number): boolean {
  return ((ticket - done) | 0) <= 0;
}

/** The work of the deferred batches the worker has not finished. */
function backlog(h: Helpers): number {
  const done = Atomics.load(h.control, DEFERRED_DONE);
  let k = 0;
  while (k < h.jobs.length && reached(done, h.jobs[k]!.ticket)) k++;
  if (k > 0) h.jobs.splice(0, k);
  let work = 0;
  for (const job of h.jobs) work += job.work;
  return work;
}

let helpers: Helpers | undefined;
/** Records of batches without helpers, allocated once: kernels run one at a time. */
let localRecords: Float64Array | undefined;
/** Call batches split across threads so far in this process (diagnostics and tests). */
let splitBatches = 0;

/** Call batches deferred so far in this process, and deferred records the calling thread ran itself (diagnostics and tests). */
let deferredBatches = 0;
let takenOver = 0;

/** How many call batches this process has split across threads. */
export function splitCallBatches(): number {
  return splitBatches;
}

/** How many call batches this process has deferred. */
export function deferredCallBatches(): number {
  return deferredBatches;
}

/** How many deferred records the calling thread has run itself, in waits. */
export function deferredRecordsTakenOver(): number {
  return takenOver;
}

/**
 * Starts `count` helper threads on `memory` (shared) with the compiled kernels `module`, and
 * waits until each has instantiated them. Idempotent per memory; the helpers never keep the
 * process alive.
 */
export async function startSimdHelpers(module: object, memory: WasmMemory, count: number): Promise<void> {
  if (count < 1 || helpers?.memory === memory) return;
  if (count > MAX_HELPERS) throw new RangeError(`at most ${MAX_HELPERS} SIMD helpers, asked for ${count}`);
  if (!(memory.buffer instanceof SharedArrayBuffer)) throw new Error('SIMD helpers need the wasm backend\'s memory to be shared (its threaded build)');
  const control = new SharedArrayBuffer(CONTROL_WORDS * 4);
  const records = new SharedArrayBuffer(CAPACITY * RECORD * 8);
  const deferred = new SharedArrayBuffer(DEFERRED_CAPACITY * RECORD * 8);
  const started = await Promise.all(Array.from({ length: count + 1 }, (_, i) => new Promise<{ worker: Worker; idle: boolean }>((resolve, reject) => {
    const index = i < count ? i : -1;
    const name = index < 0 ? 'the deferred SIMD worker' : `SIMD helper ${index}`;
    const data: HelperData = { module, memory, control, records, deferred, index };
    const worker = startModuleWorker(import.meta.url, 'simd-helper', data);
    worker.once('message', (message: { ready?: boolean; error?: string; idle?: boolean }) => {
      // Referenced until ready (the caller awaits it); never after.
      worker.unref();
      if (message.ready === true) resolve({ worker, idle: message.idle === true });
      else reject(new Error(`${name} did not start: ${message.error ?? 'no reason given'}`));
    });
    worker.once('error', reject);
  })));
  const { idle } = started.pop()!;
  helpers = {
    memory,
    workers: started.map((s) => s.worker),
    control: new Int32Array(control),
    records: new Float64Array(records),
    deferred: new Float64Array(deferred),
    idle,
    sequence: 0,
    posted: 0,
    jobs: [],
    local: undefined,
    suspendedUntil: 0,
  };
}

/** Whether batches on `memory` can be deferred (helpers share it and the deferred worker runs under SCHED_IDLE). */
export function deferralAvailable(memory: WasmMemory): boolean {
  return helpers?.memory === memory && helpers.idle;
}

/**
 * Returns once every deferred record up to `ticket` (from `CallBatch.runDeferred` on `memory`)
 * has run, on the worker or, for those it has not reached, here; throws if any deferred record
 * failed.
 */
export function waitForDeferred(memory: WasmMemory, ticket: number): void {
  const h = helpers?.memory === memory ? helpers : undefined;
  if (h === undefined) return;
  if (!reached(Atomics.load(h.control, DEFERRED_DONE), ticket)) {
    // Rather than sleep while a thread that only gets idle time works (on a busy machine it may
    // get next to none), this thread runs the records up to the ticket itself, once the worker
    // has left the record it is in.
    Atomics.store(h.control, DEFERRED_TAKEOVER, 1);
    try {
      const started = performance.now();
      while (Atomics.load(h.control, DEFERRED_BUSY) !== 0) {
        if (performance.now() - started > HELPER_TIMEOUT_MS) throw new Error(`the deferred SIMD worker did not finish a call within ${HELPER_TIMEOUT_MS} ms`);
        Atomics.wait(h.control, DEFERRED_BUSY, 1, 100);
      }
      const waited = performance.now() - started;
      if (waited > STARVED_WAIT_MS) h.suspendedUntil = performance.now() + SUSPEND_MS;
      for (let done = Atomics.load(h.control, DEFERRED_DONE); !reached(done, ticket); done = (done + 1) | 0) {
        runDeferredRecord(h.local!, h.control, h.deferred, done);
        takenOver++;
      }
    } finally {
      Atomics.store(h.control, DEFERRED_TAKEOVER, 0);
      // The worker goes on with any records past the ticket.
      Atomics.notify(h.control, DEFERRED_TAKEOVER);
    }
  }
  if (Atomics.exchange(h.control, DEFERRED_FAILED, 0) !== 0) throw new Error('a deferred SIMD call failed: the tensors it was writing are not valid');
}

/** Whether deferred records `ticket` and before are done (a ticket from `runDeferred` on `memory`). */
export function deferredDone(memory: WasmMemory, ticket: number): boolean {
  const h = helpers?.memory === memory ? helpers : undefined;
  return h === undefined || reached(Atomics.load(h.control, DEFERRED_DONE), ticket);
}

/** Helper threads that share the kernels on `memory` (0 when none). */
export function simdHelperCount(memory: WasmMemory): number {
  return helpers?.memory === memory ? helpers.workers.length : 0;
}

/**
 * Records kernel calls, then runs them split across the calling thread and the helpers.
 * Without helpers (or below MIN_SPLIT_WORK) every call runs on the calling thread, in order.
 */
export class CallBatch {
  private readonly records: Float64Array;
  private readonly groupStarts: number[] = [];
  private readonly groupWork: number[] = [];
  private count = 0;
  private lastGroup = Number.NaN;
  private readonly seenGroups = new Set<number>();
  private readonly shared: Helpers | undefined;
  /** Whether the calls go to the deferred ring (see `deferred`). */
  readonly deferred: boolean;

  /**
   * `deferWork`: the work (multiply-adds) of a batch that may be deferred, 0 for one that may
   * not. It is recorded into the deferred ring, for `runDeferred`, where `deferralAvailable` on
   * this memory and the worker's backlog with this batch stays within MAX_DEFERRED_BACKLOG
   * (`deferred` says whether it is; otherwise the batch is an ordinary one).
   */
  constructor(private readonly kernels: SimdKernels, memory: WasmMemory, deferWork = 0) {
    this.shared = helpers?.memory === memory ? helpers : undefined;
    this.deferred = deferWork > 0 && this.shared !== undefined && this.shared.idle && backlog(this.shared) + deferWork <= MAX_DEFERRED_BACKLOG
      && performance.now() >= this.shared.suspendedUntil;
    this.records = this.deferred ? this.shared!.deferred : this.shared?.records ?? (localRecords ??= new Float64Array(CAPACITY * RECORD));
  }

  /**
   * Threads `run` would split calls worth `work` across (1 + helpers sharing this memory, or 1):
   * kernels then record finer calls. A deferred batch asks for slices of about DEFERRED_SLICE_WORK.
   */
  threadsFor(work: number): number {
    if (this.deferred) return Math.max(1, Math.min(DEFERRED_MAX_SLICES, Math.round(work / DEFERRED_SLICE_WORK)));
    return this.shared === undefined || work < MIN_SPLIT_WORK ? 1 : 1 + this.shared.workers.length;
  }

  /**
   * Whether work of this size runs at least as parallel here as in XNNPACK: always on a
   * single-threaded backend; on a threaded one (XNNPACK spreads its kernels over every wasm
   * thread) only where a batch splits across the helpers. Kernels that could hand the work to
   * XNNPACK instead ask this first.
   */
  outrunsXnnpack(work: number): boolean {
    return this.shared === undefined || work >= MIN_SPLIT_WORK;
  }

  /** Records a call of `kernel` that belongs to output group `group` and costs `work`. */
  add(kernel: CallableKernel, group: number, work: number, a0: number, a1: number, a2: number, a3: number, a4: number, a5: number, a6 = 0, a7 = 0, a8 = 0): void {
    if (this.deferred) this.makeRoom();
    else if (this.count === CAPACITY) this.run();
    if (group !== this.lastGroup) {
      if (this.seenGroups.has(group)) throw new Error(`SIMD call batch: the calls of group ${group} must be recorded one after another`);
      this.seenGroups.add(group);
      this.groupStarts.push(this.count);
      this.groupWork.push(0);
      this.lastGroup = group;
    }
    this.groupWork[this.groupWork.length - 1]! += work;
    const at = (this.deferred ? (this.shared!.posted + this.count) & DEFERRED_MASK : this.count) * RECORD;
    const r = this.records;
    r[at] = CALLABLE.indexOf(kernel);
    r[at + 1] = a0;
    r[at + 2] = a1;
    r[at + 3] = a2;
    r[at + 4] = a3;
    r[at + 5] = a4;
    r[at + 6] = a5;
    r[at + 7] = a6;
    r[at + 8] = a7;
    r[at + 9] = a8;
    this.count++;
  }

  /** A deferred batch whose ring is full posts what it has and waits for a free record. */
  private makeRoom(): void {
    const h = this.shared!;
    if (((h.posted + this.count - Atomics.load(h.control, DEFERRED_DONE)) | 0) < DEFERRED_CAPACITY) return;
    const ticket = this.runDeferred();
    waitForDeferred(h.memory, (ticket - DEFERRED_CAPACITY / 2) | 0);
  }

  /**
   * Posts a deferred batch's calls to the deferred worker and returns at once, with the ticket
   * `waitForDeferred` takes. The calls run in the order recorded, after earlier deferred ones.
   */
  runDeferred(): number {
    if (!this.deferred) throw new Error('SIMD call batch: runDeferred on a batch that was not made deferred');
    const h = this.shared!;
    h.local = this.kernels;
    h.posted = (h.posted + this.count) | 0;
    h.jobs.push({ ticket: h.posted, work: this.groupWork.reduce((a, b) => a + b, 0) });
    deferredBatches++;
    this.count = 0;
    this.groupStarts.length = 0;
    this.groupWork.length = 0;
    this.lastGroup = Number.NaN;
    this.seenGroups.clear();
    Atomics.store(h.control, DEFERRED_POSTED, h.posted);
    Atomics.notify(h.control, DEFERRED_POSTED);
    return h.posted;
  }

  /** Runs every recorded call and empties the batch. */
  run(): void {
    if (this.deferred) {
      waitForDeferred(this.shared!.memory, this.runDeferred());
      return;
    }
    const count = this.count;
    if (count === 0) return;
    const total = this.groupWork.reduce((s, w) => s + w, 0);
    const h = this.shared;
    const alone = h === undefined || total < MIN_SPLIT_WORK || this.groupStarts.length < 2;
    const parts = alone ? 1 : Math.min(h.workers.length + 1, this.groupStarts.length);
    // Part boundaries at group starts, each part about total / parts of the work.
    const bounds = [0];
    for (let g = 0, done = 0; g < this.groupStarts.length && bounds.length < parts; g++) {
      if (done >= (total * bounds.length) / parts && this.groupStarts[g]! > bounds[bounds.length - 1]!) bounds.push(this.groupStarts[g]!);
      done += this.groupWork[g]!;
    }
    bounds.push(count);
    this.count = 0;
    this.groupStarts.length = 0;
    this.groupWork.length = 0;
    this.lastGroup = Number.NaN;
    this.seenGroups.clear();
    if (h === undefined || bounds.length === 2) {
      runCalls(this.kernels, this.records, 0, count);
      return;
    }
    const helpersUsed = bounds.length - 2;
    const sequence = ++h.sequence;
    splitBatches++;
    for (let i = 0; i < helpersUsed; i++) {
      h.control[RANGES + 2 * i] = bounds[i + 1]!;
      h.control[RANGES + 2 * i + 1] = bounds[i + 2]!;
    }
    for (let i = helpersUsed; i < h.workers.length; i++) {
      h.control[RANGES + 2 * i] = 0;
      h.control[RANGES + 2 * i + 1] = 0;
    }
    Atomics.store(h.control, 0, sequence);
    Atomics.notify(h.control, 0);
    runCalls(this.kernels, this.records, 0, bounds[1]!);
    // Every helper is waited for before any failure is reported: the records are reused next.
    const failed: number[] = [];
    const started = performance.now();
    for (let i = 0; i < h.workers.length; i++) {
      for (;;) {
        const seen = Atomics.load(h.control, 1 + i);
        if (seen === sequence) break;
        if (seen === -sequence) {
          failed.push(i);
          break;
        }
        if (performance.now() - started > HELPER_TIMEOUT_MS) throw new Error(`SIMD helper ${i} did not finish a call batch within ${HELPER_TIMEOUT_MS} ms`);
        Atomics.wait(h.control, 1 + i, seen, 100);
      }
    }
    if (failed.length > 0) throw new Error(`SIMD helper(s) ${failed.join(', ')} failed on a call batch (sequence ${sequence})`);
  }
}
