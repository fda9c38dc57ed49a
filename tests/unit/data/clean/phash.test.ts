import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { sampleDataPath } from '../../../../infra/tools.js';
import { createRng } from '../../../../src/core/rng.js';
import { hammingDistance, hashToHex, hexToHash, perceptualHash } from '../../../../src/data/clean/phash.js';
import { readMnistSplit, type MnistSplitData } from '../../../../src/data/mnist-idx.js';

const SIDE = 64;

/** A file (or encoded bytes) decoded and resized to SIDE x SIDE RGB, as the pipeline feeds models. */
async function rgb64(input: string | Buffer): Promise<Uint8Array> {
  const out = await sharp(input).removeAlpha().toColourspace('srgb').resize(SIDE, SIDE, { fit: 'fill' }).raw().toBuffer();
  expect(out.length).toBe(SIDE * SIDE * 3);
  return new Uint8Array(out);
}

const hash64 = (pixels: Uint8Array): bigint => perceptualHash(pixels, SIDE, SIDE, 3);

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))] as number;
}

describe('perceptualHash basics', () => {
  it('hex round trip, distance, validation', () => {
    const h = 0x0123456789abcdefn;
    expect(hashToHex(h)).toBe('0123456789abcdef');
    expect(hashToHex(5n)).toBe('0000000000000005');
    expect(hexToHash('0123456789ABCDEF')).toBe(h);
    expect(hammingDistance(0n, (1n << 64n) - 1n)).toBe(64);
    expect(hammingDistance(h, h ^ (1n << 63n) ^ 1n)).toBe(2);
    expect(() => hexToHash('123')).toThrow(RangeError);
    expect(() => hashToHex(-1n)).toThrow(/h must be a bigint in \[0, 2\^64\), got -1/);
    expect(() => hammingDistance(1n << 64n, 0n)).toThrow(RangeError);
    expect(() => perceptualHash(new Uint8Array(10), 2, 2, 3)).toThrow(/12 samples, got 10/);
    expect(() => perceptualHash(new Uint8Array(8), 2, 2, 2)).toThrow(/channels must be 1 or 3, got 2/);
    expect(() => perceptualHash(new Uint8Array(0), 0, 2, 1)).toThrow(/height must be an integer >= 1, got 0/);
  });

  it('flat images hash to 0; the DC bit is always 0 and half the AC bits are set', () => {
    expect(perceptualHash(new Uint8Array(28 * 28).fill(0), 28, 28, 1)).toBe(0n);
    expect(perceptualHash(new Uint8Array(50 * 70 * 3).fill(173), 50, 70, 3)).toBe(0n);
    const rng = createRng(3);
    for (const [h, w] of [[28, 28], [64, 64], [224, 224], [7, 300], [1, 1]] as const) {
      const pixels = Uint8Array.from({ length: h * w }, () => rng.int(256));
      const hash = perceptualHash(pixels, h, w, 1);
      expect(hash >> 63n).toBe(0n);
      const ones = hashToHex(hash).split('').reduce((n, d) => n + hammingDistance(0n, BigInt(`0x${d}`)), 0);
      if (h * w > 1) expect(ones).toBe(31);
    }
  });

  it('RGB and its grey (BT.601) version hash alike', async () => {
    const rgb = await rgb64(sampleDataPath('skimage', 'astronaut.png'));
    const grey = new Uint8Array(await sharp(Buffer.from(rgb), { raw: { width: SIDE, height: SIDE, channels: 3 } }).greyscale().raw().toBuffer());
    expect(hammingDistance(hash64(rgb), perceptualHash(grey, SIDE, SIDE, 1))).toBeLessThanOrEqual(2);
  });
});

describe('perceptualHash on MNIST', () => {
  let mnist: MnistSplitData;
  beforeAll(async () => {
    mnist = await readMnistSplit('train');
  });
  const digit = (i: number): Uint8Array => mnist.pixels.subarray(i * 784, (i + 1) * 784);

  it('small edits stay close, different digits lie far apart', () => {
    const count = 1000;
    const bright: number[] = [];
    const contrast: number[] = [];
    const shift: number[] = [];
    const hashes: bigint[] = [];
    for (let i = 0; i < count; i++) {
      const a = digit(i);
      const h = perceptualHash(a, 28, 28, 1);
      hashes.push(h);
      bright.push(hammingDistance(h, perceptualHash(a.map((v) => Math.min(255, v + 10)), 28, 28, 1)));
      contrast.push(hammingDistance(h, perceptualHash(a.map((v) => Math.round(v * 0.9 + 12)), 28, 28, 1)));
      const shifted = new Uint8Array(784);
      for (let y = 0; y < 28; y++) for (let x = 1; x < 28; x++) shifted[y * 28 + x] = a[y * 28 + x - 1] as number;
      shift.push(hammingDistance(h, perceptualHash(shifted, 28, 28, 1)));
    }
    const others: number[] = [];
    for (let k = 0; k < 5000; k++) {
      const i = (k * 7919) % count;
      const j = (k * 104_729 + 13) % count;
      if (mnist.labels[i] !== mnist.labels[j]) others.push(hammingDistance(hashes[i] as bigint, hashes[j] as bigint));
    }
    const line = (name: string, d: number[]): string =>
      `${name}: median ${quantile(d, 0.5)}, p90 ${quantile(d, 0.9)}, p99 ${quantile(d, 0.99)}, max ${Math.max(...d)}`;
    console.log(
      ['MNIST pHash distances (1000 train digits):', line('+10 brightness', bright), line('0.9x+12 contrast', contrast), line('1-px shift', shift), line('different digits, min ' + Math.min(...others), others)].join('\n  '),
    );
    // Brightness and contrast barely touch the hash (only clipping at 255 moves bits).
    expect(quantile(bright, 0.99)).toBeLessThanOrEqual(2);
    expect(quantile(contrast, 0.99)).toBeLessThanOrEqual(2);
    // A 1-px shift is 3.5% of a 28-px digit: visible in the hash, still well inside the
    // distance between different digits.
    expect(quantile(shift, 0.5)).toBeLessThanOrEqual(10);
    expect(quantile(others, 0.5)).toBeGreaterThanOrEqual(24);
    expect(quantile(others, 0.1)).toBeGreaterThan(quantile(shift, 0.9));
  });
});

describe('perceptualHash on photos', () => {
  it('a JPEG re-encode stays within 4 bits; other photos are more than 10 away', async () => {
    const astronaut = sampleDataPath('skimage', 'astronaut.png');
    const original = hash64(await rgb64(astronaut));
    const jpeg70 = hash64(await rgb64(await sharp(astronaut).jpeg({ quality: 70 }).toBuffer()));
    const jpeg30 = hash64(await rgb64(await sharp(astronaut).jpeg({ quality: 30 }).toBuffer()));
    const brighter = hash64(await rgb64(await sharp(astronaut).linear(0.9, 20).png().toBuffer()));
    const blurred = hash64(await rgb64(await sharp(astronaut).blur(1).png().toBuffer()));
    expect(hammingDistance(original, jpeg70)).toBeLessThanOrEqual(4);
    expect(hammingDistance(original, jpeg30)).toBeLessThanOrEqual(4);
    expect(hammingDistance(original, brighter)).toBeLessThanOrEqual(4);
    expect(hammingDistance(original, blurred)).toBeLessThanOrEqual(4);
    // The same photo at the other input sizes the pipeline uses.
    for (const side of [28, 224]) {
      const pixels = new Uint8Array(await sharp(astronaut).removeAlpha().resize(side, side, { fit: 'fill' }).raw().toBuffer());
      expect(hammingDistance(original, perceptualHash(pixels, side, side, 3))).toBeLessThanOrEqual(4);
    }
    const distances: Record<string, number> = {};
    for (const other of ['chelsea.png', 'coffee.png', 'camera.png', 'rocket.jpg', 'horse.png', 'coins.png', 'moon.png', 'page.png', 'retina.jpg', 'motorcycle_left.png']) {
      distances[other] = hammingDistance(original, hash64(await rgb64(sampleDataPath('skimage', other))));
    }
    console.log(`astronaut vs other photos: ${JSON.stringify(distances)}`);
    for (const d of Object.values(distances)) expect(d).toBeGreaterThan(10);
  });

  it('finds the real near-duplicates among the sample photos', async () => {
    // A stereo pair: the same scene from two cameras a few centimetres apart.
    const left = hash64(await rgb64(sampleDataPath('skimage', 'motorcycle_left.png')));
    const right = hash64(await rgb64(sampleDataPath('skimage', 'motorcycle_right.png')));
    expect(hammingDistance(left, right)).toBeLessThanOrEqual(6);
    const grey = hash64(await rgb64(sampleDataPath('skimage', 'chessboard_GRAY.png')));
    const colour = hash64(await rgb64(sampleDataPath('skimage', 'chessboard_RGB.png')));
    expect(hammingDistance(grey, colour)).toBe(0);
  });
});
