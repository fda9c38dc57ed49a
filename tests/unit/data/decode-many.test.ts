import { encode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { decodeMany } from '../../../src/data/decode-many.js';
import { DecodePool } from '../../../src/data/decode-pool.js';
import { ImageDecodeError } from '../../../src/data/decode.js';
import { ArtifactNotFoundError } from '../../../src/storage/artifact-store.js';
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
      expect((err as Error).message).toMatch(/^imgs\/1\/bad\.png: cannot decode image/);
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
