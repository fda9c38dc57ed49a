/**
 * Data-prep benchmark: MNIST PNGs written to a file store as an ImageFolder, listed, and decoded
 * back, with the fast PNG path against sharp alone as the reference measured in the same run.
 * A second part decodes the same PNGs from memory on one thread, to compare decoders per
 * thread (this project's PNG decoder, fast-png, sharp), and through `DecodePool.decodeOutcomes`.
 *
 *   node bin/run-ts.mjs bench/data-prep.ts [images=10000]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decode as fastPngDecode } from 'fast-png';
import sharp from 'sharp';
import { autoWorkers, decodeMany, type DecodeManyOptions } from '../src/data/decode-many.js';
import { DecodePool } from '../src/data/decode-pool.js';
import { decodeImage, type DecodeOptions } from '../src/data/decode.js';
import { decodePng } from '../src/data/png-fast-decode.js';
import { inspectPng } from '../src/data/png-info.js';
import { listImageFolder, materialiseImageFolder } from '../src/data/image-folder.js';
import { MNIST_CLASS_NAMES, readMnistSplit } from '../src/data/mnist-idx.js';
import { FileArtifactStore } from '../src/storage/file-store.js';

export interface DataPrepBenchResult {
  images: number;
  seconds: { materialise: number; rematerialise: number; list: number };
  /** Decode throughput (store read + decode) per configuration, images per second. */
  decode: Record<string, number>;
  /** Fast path (best configuration) over sharp alone on one thread. */
  ratio: number;
  estimateSeconds70k: number;
  /** In-memory decodes on this thread, images per second, per decoder or pipeline. */
  perThread: Record<string, number>;
  /** This project's PNG decoder over fast-png, and over sharp, per thread (decode only). */
  decoderRatios: { overFastPng: number; overSharp: number };
  /** `DecodePool.decodeOutcomes` to 32x32 grey with `autoWorkers()` workers, images per second. */
  poolOutcomesPerSecond: number;
}

/** Runs `step(i)` over all images, repeating for at least `minSeconds`; images per second. */
async function rate(count: number, step: (i: number) => unknown, minSeconds = 1.5): Promise<number> {
  for (let i = 0; i < Math.min(count, 500); i++) await step(i); // warm-up
  let done = 0;
  const start = performance.now();
  do {
    for (let i = 0; i < count; i++) await step(i);
    done += count;
  } while ((performance.now() - start) / 1000 < minSeconds);
  return done / ((performance.now() - start) / 1000);
}

/** Per-thread decode throughput of each decoder on the same in-memory PNGs. */
async function perThreadRates(pngs: Uint8Array[], log: (line: string) => void): Promise<Record<string, number>> {
  // Chunk walk with CRCs, then inflate and unfilter: what the fast path does before resizing.
  const ownDecoder = (png: Uint8Array) => {
    const inspection = inspectPng(png);
    if (!inspection.ok) throw new Error(inspection.detail);
    return decodePng(png, inspection.info);
  };
  const n = pngs.length;
  const at = (i: number): Uint8Array => pngs[i] as Uint8Array;
  const grey28: DecodeOptions = { height: 28, width: 28, channels: 1 };
  const grey32: DecodeOptions = { height: 32, width: 32, channels: 1 };
  const cases: [string, (i: number) => unknown][] = [
    ['decode only: png-fast-decode (JS inflate for small data, CRCs)', (i) => ownDecoder(at(i))],
    ['decode only: fast-png 8 (pure-JS inflate, CRCs)', (i) => fastPngDecode(at(i), { checkCrc: true })],
    ['decode only: sharp raw', (i) => sharp(at(i)).raw().toBuffer()],
    ['decodeImage 28x28 grey (fast path)', (i) => decodeImage(at(i), grey28)],
    ['decodeImage -> 32x32 grey (fast path)', (i) => decodeImage(at(i), grey32)],
    ['decodeImage -> 32x32 grey (sharp)', (i) => decodeImage(at(i), { ...grey32, decoder: 'sharp' })],
  ];
  const rates: Record<string, number> = {};
  for (const [name, step] of cases) {
    const slow = name.includes('sharp');
    rates[name] = await rate(slow ? Math.min(n, 2000) : n, step, slow ? 1 : 1.5);
    log(`  ${name.padEnd(50)} ${rates[name].toFixed(0).padStart(7)} img/s`);
  }
  return rates;
}

const FULL_MNIST = 70_000;

async function timed<T>(run: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await run();
  return [value, (performance.now() - start) / 1000];
}

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return worst;
}

export async function benchDataPrep(images = 10_000, log: (line: string) => void = console.log): Promise<DataPrepBenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'dv-bench-data-'));
  try {
    const store = new FileArtifactStore(dir);
    const train = await readMnistSplit('train');
    const source = { split: 'train' as const, images: train, labels: train.labels, classNames: MNIST_CLASS_NAMES, limit: images };
    const [written, materialise] = await timed(() => materialiseImageFolder(store, 'mnist', source));
    const [again, rematerialise] = await timed(() => materialiseImageFolder(store, 'mnist', source));
    if (written.written !== images || again.written !== 0) throw new Error(`materialise wrote ${written.written} then ${again.written}; expected ${images} then 0`);
    const [listing, list] = await timed(() => listImageFolder(store, 'mnist/train'));
    const keys = listing.items.map((item) => item.key);
    log(`${images} MNIST PNGs in ${store.baseUri} (${availableParallelism()} cores)`);
    log(`  materialise   ${(images / materialise).toFixed(0).padStart(7)} img/s  (${materialise.toFixed(2)} s)`);
    log(`  re-run (skip) ${(images / rematerialise).toFixed(0).padStart(7)} img/s  (${rematerialise.toFixed(2)} s)`);
    log(`  list          ${(images / list).toFixed(0).padStart(7)} img/s  (${list.toFixed(2)} s)`);

    const target: DecodeOptions = { height: 28, width: 28, channels: 1 };
    const configs: [string, DecodeOptions, DecodeManyOptions][] = [
      ['sharp only, no workers (reference)', { ...target, decoder: 'sharp' }, { workers: 0 }],
      ['sharp only, 2 workers', { ...target, decoder: 'sharp' }, { workers: 2 }],
      ['fast path, no workers', target, { workers: 0 }],
      ['fast path, 1 worker', target, { workers: 1 }],
      ['fast path, 2 workers', target, { workers: 2 }],
      ['fast path, auto (default)', target, {}],
    ];
    const decode: Record<string, number> = {};
    let reference: Uint8Array | undefined;
    for (const [name, options, extra] of configs) {
      // Worker start-up is included: it is part of what a prep run pays.
      const [pixels, seconds] = await timed(() => decodeMany(store, keys, options, 128, extra));
      reference ??= pixels;
      const diff = maxDiff(pixels, reference);
      if (diff > 1) throw new Error(`${name}: pixels differ from sharp's by ${diff} levels`);
      decode[name] = images / seconds;
      log(`  decode ${name.padEnd(36)} ${(images / seconds).toFixed(0).padStart(7)} img/s`);
    }
    const sharpRate = decode['sharp only, no workers (reference)'] ?? 1;
    const fastRates = Object.entries(decode).filter(([name]) => name.startsWith('fast path'));
    const best = fastRates.reduce((a, b) => (b[1] > a[1] ? b : a));
    const ratio = best[1] / sharpRate;
    log(`  fast path (${best[0]}) / sharp only: ${ratio.toFixed(1)}x`);
    const auto = decode['fast path, auto (default)'] ?? best[1];
    const perImage = materialise / images + list / images + 1 / auto;
    const estimateSeconds70k = perImage * FULL_MNIST;
    log(`  estimate for ${FULL_MNIST} images (materialise + list + decode, default settings): ${estimateSeconds70k.toFixed(1)} s`);
    log(`  same estimate with sharp only: ${((materialise / images + list / images + 1 / sharpRate) * FULL_MNIST).toFixed(1)} s`);

    log(`per thread, ${images} PNGs from memory:`);
    const pngs = await Promise.all(keys.map(async (key) => new Uint8Array(await store.get(key))));
    const perThread = await perThreadRates(pngs, log);
    const mine = perThread['decode only: png-fast-decode (JS inflate for small data, CRCs)'] ?? 0;
    const decoderRatios = {
      overFastPng: mine / (perThread['decode only: fast-png 8 (pure-JS inflate, CRCs)'] ?? 1),
      overSharp: mine / (perThread['decode only: sharp raw'] ?? 1),
    };
    log(`  png-fast-decode / fast-png: ${decoderRatios.overFastPng.toFixed(1)}x; / sharp: ${decoderRatios.overSharp.toFixed(1)}x`);

    const workers = autoWorkers();
    const pool = new DecodePool(workers);
    let poolOutcomesPerSecond: number;
    try {
      const items = keys.map((key, i) => ({ key, bytes: pngs[i] as Uint8Array }));
      const grey32: DecodeOptions = { height: 32, width: 32, channels: 1 };
      await pool.decodeOutcomes(items, grey32); // workers started and their JIT warm, as in a long prep run
      const [outcomes, seconds] = await timed(() => pool.decodeOutcomes(items, grey32));
      if (outcomes.some((o) => !o.ok)) throw new Error('decodeOutcomes quarantined an MNIST image');
      poolOutcomesPerSecond = images / seconds;
      log(`  DecodePool(${workers}).decodeOutcomes -> 32x32 grey (with sha256) ${poolOutcomesPerSecond.toFixed(0).padStart(7)} img/s`);
    } finally {
      await pool.close();
    }
    return { images, seconds: { materialise, rematerialise, list }, decode, ratio, estimateSeconds70k, perThread, decoderRatios, poolOutcomesPerSecond };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  const images = Number(process.argv[2] ?? 10_000);
  if (!Number.isInteger(images) || images < 1 || images > 60_000) {
    throw new RangeError(`images must be an integer in [1, 60000], got ${process.argv[2]}`);
  }
  await benchDataPrep(images);
}
