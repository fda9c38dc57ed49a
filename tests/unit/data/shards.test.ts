import { describe, expect, it } from 'vitest';
import { readShardIndex, readShards, ShardIntegrityError, writeShards, type ShardSource } from '../../../src/data/shards.js';
import { MemoryArtifactStore } from './memory-store.js';

function dataset(count: number, shape: [number, number, number] = [4, 3, 2]): ShardSource {
  const pixelBytes = shape[0] * shape[1] * shape[2];
  const images = Uint8Array.from({ length: count * pixelBytes }, (_, i) => (i * 37 + 11) % 256);
  const labels = Int32Array.from({ length: count }, (_, i) => (i * 7) % 3);
  return { images, labels, count, shape, scaling: '0-1', classes: ['cat', 'dog', 'eel'], split: 'train' };
}

describe('shards', () => {
  it('round-trips images and labels across several shards', async () => {
    const store = new MemoryArtifactStore();
    const data = dataset(25);
    const { index, indexUri } = await writeShards(store, 'datasets/abc', data, { recordsPerShard: 10 });
    expect(indexUri).toBe('mem://test/datasets/abc/train.index.json');
    expect(index).toMatchObject({ format: 'dv-shards/1', split: 'train', count: 25, shape: [4, 3, 2], recordBytes: 28, classes: ['cat', 'dog', 'eel'] });
    expect(index.shards.map((s) => s.count)).toEqual([10, 10, 5]);
    expect(index.perClass).toEqual([9, 8, 8]);
    for (const shard of index.shards) {
      expect(shard.key).toMatch(/^datasets\/abc\/train-[0-9a-f]{16}\.bin$/);
      expect(shard.key).toContain(shard.sha256.slice(0, 16));
      expect(shard.bytes).toBe(shard.count * 28);
    }
    const back = await readShards(store, indexUri);
    expect(back.count).toBe(25);
    expect(back.shape).toEqual([4, 3, 2]);
    expect(back.scaling).toBe('0-1');
    expect(back.labels).toEqual(data.labels);
    expect(back.images).toEqual(data.images);
    expect(await readShardIndex(store, indexUri)).toEqual(index);
  });

  it('is content-addressed: the same data gives the same keys and is not written again', async () => {
    const store = new MemoryArtifactStore();
    const first = await writeShards(store, 'd', dataset(25), { recordsPerShard: 10 });
    const puts = store.puts;
    const second = await writeShards(store, 'd', dataset(25), { recordsPerShard: 10 });
    expect(second.index.shards.map((s) => s.key)).toEqual(first.index.shards.map((s) => s.key));
    expect(store.puts).toBe(puts);
    const changed = dataset(25);
    changed.images[0] = 255 - (changed.images[0] ?? 0);
    const third = await writeShards(store, 'd', changed, { recordsPerShard: 10 });
    expect(third.index.shards[0]?.key).not.toBe(first.index.shards[0]?.key);
    expect(third.index.shards.slice(1).map((s) => s.key)).toEqual(first.index.shards.slice(1).map((s) => s.key));
    expect(store.puts).toBe(puts + 2); // the changed shard and the new index
  });

  it('detects a truncated shard and names it', async () => {
    const store = new MemoryArtifactStore();
    const { index, indexUri } = await writeShards(store, 'd', dataset(25), { recordsPerShard: 10 });
    const victim = index.shards[1]!;
    store.corrupt(victim.key, (await store.get(victim.key)).subarray(0, victim.bytes - 28));
    const err = await readShards(store, indexUri).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ShardIntegrityError);
    expect((err as Error).message).toContain(victim.uri);
    expect((err as Error).message).toMatch(/252 bytes, index says 280.*truncated/);
  });

  it('detects an altered shard of the right length and names it', async () => {
    const store = new MemoryArtifactStore();
    const { index, indexUri } = await writeShards(store, 'd', dataset(25), { recordsPerShard: 10 });
    const victim = index.shards[0]!;
    const bytes = Buffer.from(await store.get(victim.key));
    bytes[100] = (bytes[100] ?? 0) ^ 1;
    store.corrupt(victim.key, bytes);
    await expect(readShards(store, indexUri)).rejects.toThrow(new RegExp(`${victim.uri}: shard sha256 is [0-9a-f]{64}, index says ${victim.sha256}`));
  });

  it('rejects bad input and a bad index with the field and value', async () => {
    const store = new MemoryArtifactStore();
    await expect(writeShards(store, 'd', { ...dataset(3), labels: Int32Array.from([0, 3, 1]) })).rejects.toThrow(/label of record 1 must be in \[0, 3\), got 3/);
    await expect(writeShards(store, 'd', { ...dataset(3), split: 'a/b' })).rejects.toThrow(/split must match/);
    await expect(writeShards(store, 'd', { ...dataset(3), count: 4 })).rejects.toThrow(/4 of 4x3x2 need 96 bytes, got 72/);
    await store.put('d/bad.index.json', JSON.stringify({ format: 'dv-shards/0' }));
    await expect(readShards(store, 'mem://test/d/bad.index.json')).rejects.toThrow(/bad\.index\.json: shard index field format must be "dv-shards\/1", got "dv-shards\/0"/);
  });

  it('writes and reads an empty split', async () => {
    const store = new MemoryArtifactStore();
    const { index, indexUri } = await writeShards(store, 'd', { ...dataset(0), split: 'test' });
    expect(index.shards).toEqual([]);
    expect((await readShards(store, indexUri)).count).toBe(0);
  });
});
