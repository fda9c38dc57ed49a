import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { encode } from 'fast-png';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleDataPath } from '../../../infra/tools.js';
import { decodeMany, decodeOutcomes } from '../../../src/data/decode-many.js';
import { DecodePool, LOCAL_LANE_MIN_BYTES, MAX_JOB_IMAGES, type DecodeItem, type DecodeOutcome } from '../../../src/data/decode-pool.js';
import { decodeImage, ImageDecodeError, type DecodeOptions } from '../../../src/data/decode.js';
import { ArtifactNotFoundError } from '../../../src/storage/artifact-store.js';
import { BAD_IMAGE_LIMITS, badImages } from '../../support/bad-images.js';
import { MemoryArtifactStore } from './memory-store.js';

const options = { height: 12, width: 10, channels: 1 } as const;

async function storeWithImages(count: number): Promise<{ store: MemoryArtifactStore; keys: string[]; expected: Uint8Array }> {
  const store = new MemoryArtifactStore();
  const keys: string[] = [];
  const expected = new Uint8Array(count * 120);
  for (let n = 0; n < count; n++) {
    const pixels = Uint8Array.from({ length: 120 }, (_, i) => (n * 31 + i * 7) % 256);
    expected.set(pixels, n * 120);
    const key = `imgs/${n % 3}/${n}.png`;
    await store.put(key, encode({ width: 10, height: 12, channels: 1, depth: 8, data: pixels }));
    keys.push(key);
  }
  return { store, keys, expected };
}

describe('decodeMany', () => {
  it('packs images in key order, on this thread and in worker threads alike', async () => {
    const { store, keys, expected } = await storeWithImages(70);
    const progress: number[] = [];
    const here = await decodeMany(store, keys, options, 4, { workers: 0, onProgress: (done) => progress.push(done) });
    expect(here).toEqual(expected);
    expect(progress.at(-1)).toBe(70);
    const inWorkers = await decodeMany(store, keys, options, 16, { workers: 2 });
    expect(inWorkers).toEqual(expected);
  });

  it('reuses a caller-owned pool and reports a bad image by key from a worker', async () => {
    const { store, keys, expected } = await storeWithImages(20);
    const pool = new DecodePool(1);
    try {
      expect(await decodeMany(store, keys, options, 8, { pool })).toEqual(expected);
      await store.put('imgs/1/bad.png', 'not a png');
      const err = await decodeMany(store, [...keys, 'imgs/1/bad.png'], options, 8, { pool }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ImageDecodeError);
      expect((err as ImageDecodeError).reason).toBe('unsupported-format');
      expect((err as Error).message).toMatch(/^imgs\/1\/bad\.png: not a JPEG, PNG/);
      // The pool survives a bad image.
      expect(await decodeMany(store, keys.slice(0, 5), options, 8, { pool })).toEqual(expected.subarray(0, 600));
    } finally {
      await pool.close();
    }
  });

  it('fails on a missing file with the store error naming it', async () => {
    const { store, keys } = await storeWithImages(3);
    await expect(decodeMany(store, [...keys, 'imgs/9/gone.png'], options, 2, { workers: 0 })).rejects.toThrow(ArtifactNotFoundError);
    await expect(decodeMany(store, keys, options, 0)).rejects.toThrow(/concurrency must be an integer >= 1, got 0/);
  });
});

describe('decodeOutcomes', () => {
  const options: DecodeOptions = { height: 20, width: 20, channels: 3, background: [10, 20, 30], ...BAD_IMAGE_LIMITS };
  let pool: DecodePool;
  let items: DecodeItem[];
  let expected: (DecodeOutcome & { key: string })[];

  beforeAll(async () => {
    pool = new DecodePool(2);
    const bad = await badImages();
    const good: DecodeItem[] = Array.from({ length: 40 }, (_, n) => ({
      key: `good/${n}.png`,
      bytes: encode({ width: 16, height: 16, channels: 3, depth: 8, data: Uint8Array.from({ length: 768 }, (_, i) => (i * 13 + n * 7) & 0xff) }),
      channelOrder: n % 3 === 0 ? 'bgr' : 'rgb',
    }));
    good.push({ key: 'photo/rocket.jpg', bytes: readFileSync(sampleDataPath('skimage', 'rocket.jpg')) });
    good.push({ key: 'photo/logo.png', bytes: readFileSync(sampleDataPath('skimage', 'logo.png')), channelOrder: 'bgr' });
    // Bad images interleaved with good ones.
    items = [];
    good.forEach((g, i) => {
      items.push(g);
      const b = bad[i % bad.length];
      if (i < bad.length && b) items.push({ key: `bad/${b.name}`, bytes: b.bytes });
    });
    expected = await Promise.all(
      items.map(async (item) => {
        const sha256 = createHash('sha256').update(item.bytes).digest('hex');
        try {
          const { pixels, source } = await decodeImage(item.bytes, { ...options, key: item.key, channelOrder: item.channelOrder ?? 'rgb' });
          return { key: item.key, ok: true as const, pixels, source, sha256 };
        } catch (err) {
          if (!(err instanceof ImageDecodeError)) throw err;
          return { key: item.key, ok: false as const, reason: err.reason, detail: err.detail, sha256 };
        }
      }),
    );
  });

  afterAll(async () => {
    await pool.close();
  });

  function check(outcomes: DecodeOutcome[]): void {
    expect(outcomes).toHaveLength(items.length);
    outcomes.forEach((outcome, i) => {
      const want = expected[i];
      if (!want) throw new Error(`no expectation for ${i}`);
      const { key, ...rest } = want;
      expect({ key, ...outcome }).toEqual({ key, ...rest });
    });
  }

  it('gives one outcome per image, in order, with bad images as reasons, in worker threads', async () => {
    expect(expected.filter((e) => !e.ok).length).toBe((await badImages()).length);
    check(await pool.decodeOutcomes(items, options));
    const reasons = new Set(expected.flatMap((e) => (e.ok ? [] : [e.reason])));
    expect(reasons.size).toBe(6);
  });

  it('gives the same outcomes on this thread', async () => {
    check(await decodeOutcomes(items, options));
  });

  it('decodes photos on this thread too (LOCAL_LANE_MIN_BYTES) with the same outcomes, in order', async () => {
    const names = ['astronaut.png', 'camera.png', 'coins.png', 'rocket.jpg', 'text.png', 'color.png', 'moon.png', 'retina.jpg'];
    const bad = (await badImages()).slice(0, 2);
    const photos: DecodeItem[] = names.flatMap((name, i) => {
      const photo = { key: `photo/${name}`, bytes: readFileSync(sampleDataPath('skimage', name)) };
      const b = bad[i];
      return b ? [photo, { key: `bad/${b.name}`, bytes: b.bytes }] : [photo];
    });
    const encoded = photos.reduce((n, p) => n + p.bytes.length, 0);
    expect(encoded / photos.length).toBeGreaterThan(LOCAL_LANE_MIN_BYTES);
    const shape = { height: 32, width: 32, channels: 3, ...BAD_IMAGE_LIMITS } as const;
    const alone = await decodeOutcomes(photos, shape);
    expect(alone.filter((o) => !o.ok)).toHaveLength(2);
    expect(await pool.decodeOutcomes(photos, shape)).toEqual(alone);
    pool.decodeHere = false;
    try {
      expect(await pool.decodeOutcomes(photos, shape)).toEqual(alone);
    } finally {
      pool.decodeHere = true;
    }
  });

  it('splits a large batch into jobs and keeps the order', async () => {
    const many = Array.from({ length: MAX_JOB_IMAGES * 2 + 37 }, (_, n) => ({
      key: `m/${n}.png`,
      bytes: encode({ width: 4, height: 4, channels: 1, depth: 8, data: new Uint8Array(16).fill(n & 0xff) }),
    }));
    const outcomes = await pool.decodeOutcomes(many, { height: 4, width: 4, channels: 1 });
    expect(outcomes.map((o) => (o.ok ? o.pixels[0] : -1))).toEqual(many.map((_, n) => n & 0xff));
    expect(await pool.decodeOutcomes([], options)).toEqual([]);
  });

  it('rejects, not quarantines, an error that is not about an image, and the pool keeps working', async () => {
    const err = await pool.decodeOutcomes(items.slice(0, 3), { ...options, height: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(ImageDecodeError);
    expect((err as Error).message).toMatch(/height must be an integer in \[1, 16384\], got 0/);
    await expect(decodeOutcomes(items.slice(0, 3), { ...options, height: 0 })).rejects.toThrow(RangeError);
    const again = await pool.decodeOutcomes(items.slice(0, 2), options);
    expect(again.map((o) => o.ok)).toEqual(expected.slice(0, 2).map((e) => e.ok));
  });
});
