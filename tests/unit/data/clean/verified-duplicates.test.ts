import { describe, expect, it } from 'vitest';
import { perceptualHash } from '../../../../src/data/clean/phash.js';
import { findVerifiedDuplicates, greyThumbnail, THUMB_SIDE } from '../../../../src/data/clean/verified-duplicates.js';
import { readMnistSplit } from '../../../../src/data/mnist-idx.js';

describe('findVerifiedDuplicates', () => {
  it('finds brightened and contrast-changed copies of MNIST digits without merging distinct handwriting', async () => {
    const mnist = await readMnistSplit('test');
    const n = 3000;
    const images: Uint8Array[] = [];
    for (let i = 0; i < n; i++) images.push(mnist.pixels.slice(i * 784, (i + 1) * 784));
    // Copies of the first 20 digits: +12 brightness, and 0.9x contrast.
    for (let i = 0; i < 20; i++) images.push(images[i]!.map((v) => (i % 2 ? Math.min(255, v + 12) : Math.round(v * 0.9))));
    const hashes = images.map((p) => perceptualHash(p, 28, 28, 1));
    const thumbs = images.map((p) => greyThumbnail(p, 28, 28, 1));
    const clusters = findVerifiedDuplicates(hashes, thumbs, { maxDistance: 2, minCorrelation: 0.995 });
    const pairs = new Set(clusters.map((c) => c.join(',')));
    for (let i = 0; i < 20; i++) expect(pairs.has(`${i},${n + i}`)).toBe(true);
    // Anything else merged must be a genuine near-copy: few, and never more than a pair or three.
    const extra = clusters.filter((c) => c[0]! >= 20);
    expect(extra.length).toBeLessThanOrEqual(3);
    // The hash alone would have merged many distinct digits.
    const { findNearDuplicates } = await import('../../../../src/data/clean/near-duplicates.js');
    expect(findNearDuplicates(hashes, 2).reduce((s, c) => s + c.length, 0)).toBeGreaterThan(200);
  });

  it('treats two flat images as copies, and a flat and a textured one as different', () => {
    const flat = new Uint8Array(THUMB_SIDE * THUMB_SIDE).fill(40);
    const flat2 = new Uint8Array(THUMB_SIDE * THUMB_SIDE).fill(200);
    const textured = Uint8Array.from({ length: THUMB_SIDE * THUMB_SIDE }, (_, i) => (i * 37) % 256);
    const clusters = findVerifiedDuplicates([0n, 0n, 0n], [flat, flat2, textured], { maxDistance: 0, minCorrelation: 0.99 });
    expect(clusters).toEqual([[0, 1]]);
  });

  it('averages RGB through BT.601 luma into a 16x16 thumbnail', () => {
    const rgb = new Uint8Array(32 * 32 * 3);
    for (let p = 0; p < 32 * 32; p++) rgb.set([255, 0, 0], p * 3);
    const thumb = greyThumbnail(rgb, 32, 32, 3);
    expect(thumb.length).toBe(256);
    expect(new Set(thumb)).toEqual(new Set([76]));
  });
});
