/**
 * Fetches and decodes many images from a store into one packed NHWC uint8 buffer, holding at
 * most `concurrency` encoded files in memory at a time.
 */
import { availableParallelism } from 'node:os';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { forEachBounded } from './bounded.js';
import { chooseDecoder, decodeToTensor, validateDecodeOptions, type DecodeOptions } from './decode.js';
import { decodeOutcome, type DecodeItem, type DecodeOutcome } from './decode-outcome.js';
import { DecodePool } from './decode-pool.js';

export type { DecodeItem, DecodeOutcome } from './decode-outcome.js';

export interface DecodeManyOptions {
  /**
   * Worker threads that decode while this thread reads files. 0 decodes here. Ignored when
   * `pool` is given. Defaults to 'auto': `autoWorkers()` workers when there are at least
   * `AUTO_POOL_MIN_IMAGES` keys, more than one core, and the first image takes the fast PNG
   * path; else 0, because sharp already decodes on its own threads and measured slower behind
   * a pool.
   */
  workers?: number | 'auto';
  /** A pool to reuse across calls (e.g. train then test); the caller closes it. */
  pool?: DecodePool;
  /** Called after each image or batch with how many are done. */
  onProgress?: (done: number, total: number) => void;
}

/** Starting a worker (TypeScript loader, sharp) costs ~0.3 s: not worth it for a few images. */
export const AUTO_POOL_MIN_IMAGES = 2000;

/**
 * Workers 'auto' starts (and phase 1's shared pool): one per core but one, up to 4, at least 1.
 * The thread that starts them is busy too (store reads, hashing, features in phase 1), and on
 * 2 cores one worker beat two in bench/phase1-vs-pillow.ts: 10,000 MNIST PNGs to 32x32, same
 * runs alternated, 23,000 vs 19,400 img/s cold and 39,700 vs 37,500 warm, 44 vs 52 us of CPU per
 * image cold (each worker compiles the decode code again). Photos decode on libuv's threads
 * whatever the worker count, so they do not need more.
 */
export function autoWorkers(): number {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

/**
 * Decodes `keys` in order into `keys.length * height * width * channels` bytes. Errors name the
 * key that failed (`ImageDecodeError` for bad images, the store's error for missing ones).
 */
export async function decodeMany(
  store: ArtifactStore,
  keys: readonly string[],
  options: DecodeOptions,
  concurrency = 64,
  extra: DecodeManyOptions = {},
): Promise<Uint8Array> {
  validateDecodeOptions(options);
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`decodeMany concurrency must be an integer >= 1, got ${String(concurrency)}`);
  }
  const imageBytes = options.height * options.width * options.channels;
  const out = new Uint8Array(keys.length * imageBytes);
  const total = keys.length;
  let done = 0;
  const report = (n: number): void => {
    done += n;
    extra.onProgress?.(done, total);
  };

  let pool = extra.pool;
  const workers = pool ? 0 : await wantedWorkers(store, keys, options, extra.workers);
  const ownPool = workers > 0;
  if (ownPool) pool = new DecodePool(workers);
  try {
    if (!pool) {
      await forEachBounded(total, concurrency, async (i) => {
        const key = keys[i] ?? '';
        const bytes = await store.get(key);
        out.set(await decodeToTensor(bytes, { ...options, key }), i * imageBytes);
        report(1);
      });
      return out;
    }
    // Two jobs per worker keep each busy while the next batch is read; the batch size keeps
    // the files held in memory within `concurrency`.
    const lanes = pool.size * 2;
    const batch = Math.max(1, Math.min(256, Math.floor(concurrency / lanes)));
    const active = pool;
    await forEachBounded(Math.ceil(total / batch), lanes, async (b) => {
      const start = b * batch;
      const batchKeys = keys.slice(start, Math.min(total, start + batch));
      const images = await Promise.all(batchKeys.map(async (key) => ({ key, bytes: await store.get(key) })));
      out.set(await active.decode(options, images), start * imageBytes);
      report(batchKeys.length);
    });
    return out;
  } finally {
    if (ownPool) await pool?.close();
  }
}

async function wantedWorkers(
  store: ArtifactStore,
  keys: readonly string[],
  options: DecodeOptions,
  workers: number | 'auto' | undefined,
): Promise<number> {
  if (workers === undefined || workers === 'auto') {
    const first = keys[0];
    if (first === undefined || keys.length < AUTO_POOL_MIN_IMAGES || availableParallelism() < 2) return 0;
    // One extra read of one file decides the path: a dataset's images are nearly always alike.
    // The JS PNG paths and TurboJPEG decode on the calling thread, so they get worker threads.
    return chooseDecoder(await store.get(first), options) !== 'sharp' ? autoWorkers() : 0;
  }
  if (!Number.isInteger(workers) || workers < 0) {
    throw new RangeError(`decodeMany workers must be 'auto' or an integer >= 0, got ${String(workers)}`);
  }
  return workers;
}

/** Images decoded at once by `decodeOutcomes`: sharp decodes each on its own threads, so a few overlap well. */
const SAME_THREAD_CONCURRENCY = 4;

/**
 * `DecodePool.decodeOutcomes` on this thread (a pool of size 0): one outcome per item, in order;
 * bad images become failed outcomes, anything else rejects.
 */
export async function decodeOutcomes(items: readonly DecodeItem[], options: DecodeOptions): Promise<DecodeOutcome[]> {
  validateDecodeOptions(options);
  const outcomes = new Array<DecodeOutcome>(items.length);
  await forEachBounded(items.length, SAME_THREAD_CONCURRENCY, async (i) => {
    outcomes[i] = await decodeOutcome(items[i] as DecodeItem, options);
  });
  return outcomes;
}
