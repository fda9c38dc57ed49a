/**
 * A small pool of worker threads that run `decodeToTensor`, so decoding uses the cores the
 * main thread leaves idle while it reads files. Jobs carry many images in one transferred
 * buffer: per-message cost would otherwise rival a 28x28 decode.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { ImageDecodeError, type DecodeOptions } from './decode.js';

/** A batch of encoded images, concatenated into `bytes`; image i is `bytes[offsets[i], offsets[i+1])`. */
export interface DecodeJob {
  id: number;
  options: DecodeOptions;
  keys: string[];
  offsets: number[];
  bytes: ArrayBuffer;
}

export type DecodeReply =
  | { id: number; ok: true; pixels: ArrayBuffer }
  | { id: number; ok: false; key: string; message: string; decodeError: boolean };

interface Pending {
  resolve: (pixels: Uint8Array) => void;
  reject: (err: Error) => void;
}

/** URL of the tsx ESM API, from tsx's own exports map so its internal layout may change. */
function tsxApiUrl(): string {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve('tsx/package.json');
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8')) as { exports?: Record<string, { import?: { default?: string } } | string> };
  const entry = pkg.exports?.['./esm/api'];
  const file = typeof entry === 'object' ? entry.import?.default : undefined;
  if (!file) throw new Error(`${pkgPath}: exports["./esm/api"].import.default not found; cannot start TypeScript decode workers`);
  return pathToFileURL(join(dirname(pkgPath), file)).href;
}

function startWorker(): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    // Running from source (tsx or vitest): the worker needs the TypeScript loader too.
    const target = new URL('./decode-worker.ts', here).href;
    const code = `import(${JSON.stringify(tsxApiUrl())}).then((m) => { m.register(); return import(${JSON.stringify(target)}); });`;
    return new Worker(code, { eval: true });
  }
  return new Worker(new URL('./decode-worker.js', here));
}

export class DecodePool {
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
      const worker = startWorker();
      const pending = new Map<number, Pending>();
      worker.on('message', (reply: DecodeReply) => this.settle(pending, reply));
      worker.on('error', (err) => this.fail(w, err));
      worker.on('exit', (code) => {
        if (!this.closed) this.fail(w, new Error(`decode worker exited with code ${code}`));
      });
      // Idle workers must not keep the process alive between jobs.
      worker.unref();
      this.workers.push(worker);
      this.pending.push(pending);
    }
  }

  private settle(pending: Map<number, Pending>, reply: DecodeReply): void {
    const job = pending.get(reply.id);
    if (!job) return;
    pending.delete(reply.id);
    if (pending.size === 0) this.workers[this.pending.indexOf(pending)]?.unref();
    if (reply.ok) job.resolve(new Uint8Array(reply.pixels));
    else job.reject(reply.decodeError ? new ImageDecodeError(reply.key, reply.message) : new Error(`${reply.key}: ${reply.message}`));
  }

  private fail(slot: number, err: Error): void {
    this.failures[slot] ??= err;
    const pending = this.pending[slot];
    if (!pending) return;
    for (const job of pending.values()) job.reject(err);
    pending.clear();
  }

  /** Decodes a batch on the least busy worker; resolves to the packed pixels of every image. */
  decode(options: DecodeOptions, images: { key: string; bytes: Uint8Array }[]): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new Error('decode pool is closed'));
    let total = 0;
    for (const image of images) total += image.bytes.length;
    const bytes = new Uint8Array(total);
    const offsets = [0];
    for (const image of images) {
      bytes.set(image.bytes, offsets[offsets.length - 1]);
      offsets.push((offsets[offsets.length - 1] ?? 0) + image.bytes.length);
    }
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
    const id = this.nextId++;
    const job: DecodeJob = { id, options, keys: images.map((i) => i.key), offsets, bytes: bytes.buffer };
    return new Promise<Uint8Array>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage(job, [bytes.buffer]);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
