/**
 * A small pool of worker threads that decode images, so decoding uses the cores the main thread
 * leaves idle while it reads files. Jobs carry many images in one transferred buffer and come
 * back as one transferred pixel buffer: per-message cost would otherwise rival a 28x28 decode.
 */
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../core/module-worker.js';
import { ImageDecodeError, releaseSharpLockOf, sharpLockBuffer, type DecodeOptions, type SourceImageInfo } from './decode.js';
import type { DecodeItem, DecodeOutcome } from './decode-outcome.js';
import { runOutcomes, SOURCE_FIELDS, WIRE_FORMATS, type DecodeJob, type DecodeReply } from './decode-job.js';

export type { DecodeItem, DecodeOutcome } from './decode-outcome.js';
export { SOURCE_FIELDS, WIRE_FORMATS, type DecodeJob, type DecodeReply, type WireOutcomes } from './decode-job.js';

interface Pending {
  resolve: (reply: Extract<DecodeReply, { ok: true }>) => void;
  reject: (err: Error) => void;
}

/** Most images in one 'outcomes' job: large enough to amortise a message, small enough to balance workers. */
export const MAX_JOB_IMAGES = 256;

/** Most encoded bytes in one 'outcomes' job (a larger single image is a job of its own), so photos do not pile up in copies. */
export const MAX_JOB_BYTES = 32 * 1024 * 1024;

/** What a decode worker starts with: this thread's sharp lock, shared by every thread that decodes. */
export interface DecodeWorkerData {
  sharpLock: SharedArrayBuffer;
}

function startWorker(sharpLock: SharedArrayBuffer): Worker {
  const workerData: DecodeWorkerData = { sharpLock };
  return startModuleWorker(import.meta.url, 'decode-worker', workerData);
}

function pack(images: readonly { bytes: Uint8Array }[]): { bytes: Uint8Array<ArrayBuffer>; offsets: number[] } {
  let total = 0;
  for (const image of images) total += image.bytes.length;
  const bytes = new Uint8Array(new ArrayBuffer(total));
  const offsets = [0];
  let at = 0;
  for (const image of images) {
    bytes.set(image.bytes, at);
    at += image.bytes.length;
    offsets.push(at);
  }
  return { bytes, offsets };
}

/**
 * Average encoded bytes per image above which `decodeOutcomes` decodes on the calling thread too.
 * Photos decoded in JS (PNGs shrunk by `decodeImage`) keep a worker's thread busy, and the
 * calling thread mostly waits for them; MNIST-sized files (~300 bytes) are cheaper to decode than
 * to read, and there the calling thread is busy reading.
 */
export const LOCAL_LANE_MIN_BYTES = 16 * 1024;

/** Runs an 'outcomes' job on this thread, as a worker would. */
async function decodeHere(job: DecodeJob): Promise<Extract<DecodeReply, { ok: true }>> {
  const reply = await runOutcomes(job);
  if (!reply.ok) throw new Error(`${reply.key}: ${reply.message}`);
  return reply;
}

export class DecodePool {
  /** Whether `decodeOutcomes` may decode photos on the calling thread too (`LOCAL_LANE_MIN_BYTES`). Defaults to true. */
  decodeHere = true;

  private readonly workers: Worker[];
  private readonly pending: Map<number, Pending>[];
  /** Why a worker stopped, per slot; a stopped worker gets no more jobs. */
  private readonly failures: (Error | undefined)[];
  private nextId = 1;
  private closed = false;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`decode pool size must be an integer >= 1, got ${String(size)}`);
    this.workers = [];
    this.pending = [];
    this.failures = [];
    for (let w = 0; w < size; w++) {
      const lock = sharpLockBuffer();
      const worker = startWorker(lock);
      const id = worker.threadId;
      const pending = new Map<number, Pending>();
      worker.on('message', (reply: DecodeReply) => this.settle(w, reply));
      worker.on('error', (err) => this.fail(w, err));
      worker.on('exit', (code) => {
        // A worker stopped mid-decode leaves its hold on the process's sharp lock: clear it.
        releaseSharpLockOf(lock, id);
        if (!this.closed) this.fail(w, new Error(`decode worker exited with code ${code}`));
      });
      // Idle workers must not keep the process alive between jobs.
      worker.unref();
      this.workers.push(worker);
      this.pending.push(pending);
    }
  }

  private settle(slot: number, reply: DecodeReply): void {
    const pending = this.pending[slot];
    const job = pending?.get(reply.id);
    if (!pending || !job) return;
    pending.delete(reply.id);
    if (pending.size === 0) this.workers[slot]?.unref();
    if (reply.ok) job.resolve(reply);
    else if (reply.reason) job.reject(new ImageDecodeError(reply.key, reply.reason, reply.message));
    else job.reject(new Error(`${reply.key}: ${reply.message}`));
  }

  private fail(slot: number, err: Error): void {
    this.failures[slot] ??= err;
    const pending = this.pending[slot];
    if (!pending) return;
    for (const job of pending.values()) job.reject(err);
    pending.clear();
  }

  /** Sends a job to the least busy working worker. */
  private post(job: DecodeJob): Promise<Extract<DecodeReply, { ok: true }>> {
    if (this.closed) return Promise.reject(new Error('decode pool is closed'));
    let best = -1;
    for (let w = 0; w < this.workers.length; w++) {
      if (this.failures[w]) continue;
      if (best < 0 || (this.pending[w]?.size ?? 0) < (this.pending[best]?.size ?? 0)) best = w;
    }
    const worker = this.workers[best];
    const pending = this.pending[best];
    if (!worker || !pending) {
      return Promise.reject(new Error(`decode pool has no working workers: ${this.failures[0]?.message ?? 'none started'}`));
    }
    return new Promise((resolve, reject) => {
      pending.set(job.id, { resolve, reject });
      worker.ref();
      worker.postMessage(job, [job.bytes]);
    });
  }

  /**
   * Decodes a batch on the least busy worker; resolves to the packed pixels of every image.
   * Rejects with an `ImageDecodeError` on the first bad image.
   */
  async decode(options: DecodeOptions, images: { key: string; bytes: Uint8Array }[]): Promise<Uint8Array> {
    const { bytes, offsets } = pack(images);
    const reply = await this.post({ id: this.nextId++, kind: 'tensor', options, keys: images.map((i) => i.key), offsets, bytes: bytes.buffer });
    return new Uint8Array(reply.pixels);
  }

  /**
   * Decodes `items` across the workers: one outcome per item, in order. A bad image is an
   * outcome with its quarantine reason, never a rejection; the promise rejects only for errors
   * that are not about an image (a bug, bad options, a dead worker), with the worker's message.
   * Each outcome's pixels are a view into one buffer shared with the other images of its job.
   */
  async decodeOutcomes(items: readonly DecodeItem[], options: DecodeOptions): Promise<DecodeOutcome[]> {
    if (items.length === 0) return [];
    const working = Math.max(1, this.failures.filter((f) => f === undefined).length);
    let encoded = 0;
    for (const item of items) encoded += item.bytes.length;
    const here = this.decodeHere && encoded / items.length >= LOCAL_LANE_MIN_BYTES;
    // With a lane here, smaller jobs: the lanes take them as they come free, so none waits long.
    const perJob = Math.max(1, Math.min(MAX_JOB_IMAGES, Math.ceil(items.length / ((working + (here ? 1 : 0)) * (here ? 4 : 2)))));
    // Job boundaries: at most perJob images and MAX_JOB_BYTES encoded bytes each.
    const starts: number[] = [];
    for (let i = 0, bytes = 0, count = 0; i < items.length; i++) {
      const size = items[i]?.bytes.length ?? 0;
      if (count === 0 || count >= perJob || bytes + size > MAX_JOB_BYTES) {
        starts.push(i);
        bytes = 0;
        count = 0;
      }
      bytes += size;
      count++;
    }
    starts.push(items.length);
    const imageBytes = options.height * options.width * options.channels;
    const outcomes = new Array<DecodeOutcome>(items.length);
    const jobs = starts.length - 1;
    let next = 0;
    const runJob = async (j: number, onThisThread: boolean): Promise<void> => {
      const start = starts[j] ?? 0;
      const batch = items.slice(start, starts[j + 1]);
      const { bytes, offsets } = pack(batch);
      const bgr = Uint8Array.from(batch, (item) => ((item.channelOrder ?? options.channelOrder) === 'bgr' ? 1 : 0));
      const job: DecodeJob = { id: this.nextId++, kind: 'outcomes', options, keys: batch.map((i) => i.key), offsets, bytes: bytes.buffer, bgr };
      const reply = onThisThread ? await decodeHere(job) : await this.post(job);
      const wire = reply.outcomes;
      if (!wire || wire.sha256.length !== batch.length || wire.source.length !== batch.length * SOURCE_FIELDS) {
        throw new Error(`decode worker returned ${wire?.sha256.length ?? 0} outcomes for ${batch.length} images`);
      }
      const { source: s, sha256 } = wire;
      for (let k = 0, f = 0; k < batch.length; k++, f += SOURCE_FIELDS) {
        const format = WIRE_FORMATS[s[f] as number];
        if (format === undefined) continue; // a bad image: filled in below
        const source: SourceImageInfo = {
          format,
          width: s[f + 1] as number,
          height: s[f + 2] as number,
          channels: s[f + 3] as number,
          bitDepth: s[f + 4] as number,
          hasAlpha: s[f + 5] === 1,
        };
        if (s[f + 6] !== 0) source.orientation = s[f + 6] as number;
        outcomes[start + k] = { ok: true, pixels: new Uint8Array(reply.pixels, k * imageBytes, imageBytes), source, sha256: sha256[k] as string };
      }
      for (const { index, reason, detail } of wire.failures) {
        outcomes[start + index] = { ok: false, reason, detail, sha256: sha256[index] as string };
      }
    };
    // Two jobs per worker in flight: each worker has the next batch queued, and only that many
    // batches of encoded bytes are copied at once. The lane here starts after the workers have
    // their first jobs, and gives the event loop a turn between jobs (replies, the next posts).
    const workerLane = async (): Promise<void> => {
      for (let j = next++; j < jobs; j = next++) await runJob(j, false);
    };
    const hereLane = async (): Promise<void> => {
      for (let j = next++; j < jobs; j = next++) {
        await runJob(j, true);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    };
    const lanes = Array.from({ length: Math.min(jobs, this.size * 2) }, workerLane);
    if (here) lanes.push(hereLane());
    await Promise.all(lanes);
    return outcomes;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
