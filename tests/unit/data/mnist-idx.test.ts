import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultMnistDir, parseIdxImages, readMnistSplit } from '../../../src/data/mnist-idx.js';

const dirs: string[] = [];
async function scratchDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dv-idx-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('MNIST IDX files', () => {
  it('reads the real train and test splits', async () => {
    const train = await readMnistSplit('train');
    expect([train.count, train.rows, train.cols]).toEqual([60000, 28, 28]);
    expect(train.pixels.length).toBe(60000 * 784);
    expect(train.labels.length).toBe(60000);
    expect(train.labels[0]).toBe(5);
    const test = await readMnistSplit('test');
    expect(test.count).toBe(10000);
    expect(test.labels[0]).toBe(7);
    // Every digit occurs: a reader that dropped or shifted bytes would break this.
    expect(new Set(train.labels).size).toBe(10);
    expect(Math.max(...train.pixels.subarray(0, 784))).toBe(255);
  });

  it('names the file when the magic number is wrong', async () => {
    const dir = await scratchDir();
    const src = defaultMnistDir();
    // A label file where the image file should be: magic 2049 instead of 2051.
    await copyFile(join(src, 't10k-labels-idx1-ubyte'), join(dir, 't10k-images-idx3-ubyte'));
    await copyFile(join(src, 't10k-labels-idx1-ubyte'), join(dir, 't10k-labels-idx1-ubyte'));
    await expect(readMnistSplit('test', dir)).rejects.toThrow(/t10k-images-idx3-ubyte.*magic is 2049, expected 2051/);
  });

  it('names the file when it is truncated or missing', async () => {
    const dir = await scratchDir();
    const header = Buffer.alloc(16);
    header.writeUInt32BE(2051, 0);
    header.writeUInt32BE(2, 4);
    header.writeUInt32BE(28, 8);
    header.writeUInt32BE(28, 12);
    expect(() => parseIdxImages(Buffer.concat([header, Buffer.alloc(784)]), 'short.idx')).toThrow(/short\.idx: 2 images of 28x28 need 1584 bytes, file has 800/);
    await writeFile(join(dir, 'train-images-idx3-ubyte'), header);
    await expect(readMnistSplit('train', dir)).rejects.toThrow(/train-labels-idx1-ubyte/);
  });
});
