import { describe, expect, it } from 'vitest';
import { decodeCheckpoint, encodeCheckpoint } from '../../../src/activities/checkpoint-codec.js';

describe('checkpoint codec', () => {
  const checkpoint = {
    epoch: 3,
    model: new Uint8Array([1, 2, 3, 4, 5]),
    optimizer: new Uint8Array([9, 8, 7]),
    history: [{ epoch: 1, loss: 0.5, accuracy: 0.8, imagesPerSecond: 100, seconds: 2 }],
  };

  it('round-trips weights, optimizer state and history', () => {
    const back = decodeCheckpoint(encodeCheckpoint(checkpoint), 'mem://c');
    expect(back.epoch).toBe(3);
    expect(Array.from(back.model)).toEqual([1, 2, 3, 4, 5]);
    expect(Array.from(back.optimizer)).toEqual([9, 8, 7]);
    expect(back.history).toEqual(checkpoint.history);
  });

  it('rejects a truncated checkpoint instead of reading it as whole', () => {
    const bytes = encodeCheckpoint(checkpoint);
    expect(() => decodeCheckpoint(bytes.subarray(0, bytes.length - 1), 's3://b/c.ckpt')).toThrow(/s3:\/\/b\/c\.ckpt: checkpoint is .* bytes, expected .*truncated/);
    expect(() => decodeCheckpoint(new Uint8Array([1, 2, 3]), 'x')).toThrow(/bad magic/);
  });
});
