import { encode } from 'fast-png';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { createRng } from '../../../src/core/rng.js';
import { chooseDecoder, decodeToTensor, ImageDecodeError, type DecodeOptions } from '../../../src/data/decode.js';
import { luma } from '../../../src/data/pixels.js';

function noise(length: number, seed: number, max = 256): Uint8Array {
  const rng = createRng(seed);
  return Uint8Array.from({ length }, () => rng.int(max));
}

function maxDiff(a: Uint8Array, b: Uint8Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return worst;
}

/** Decodes with both paths, checks the fast path really ran, and that they agree within 1 level. */
async function bothPaths(png: Uint8Array, options: DecodeOptions): Promise<Uint8Array> {
  expect(chooseDecoder(png, options)).toBe('fast-png');
  const fast = await decodeToTensor(png, options);
  const viaSharp = await decodeToTensor(png, { ...options, decoder: 'sharp' });
  expect(maxDiff(fast, viaSharp)).toBeLessThanOrEqual(1);
  return fast;
}

const rgbaPixels = noise(16 * 16 * 4, 3);
const rgbaPng = encode({ width: 16, height: 16, channels: 4, depth: 8, data: rgbaPixels });

describe('decodeToTensor', () => {
  it('decodes a grey PNG exactly, on both paths, to 1 and to 3 channels', async () => {
    const grey = noise(28 * 28, 1);
    const png = encode({ width: 28, height: 28, channels: 1, depth: 8, data: grey });
    expect(await bothPaths(png, { height: 28, width: 28, channels: 1 })).toEqual(grey);
    const rgb = await bothPaths(png, { height: 28, width: 28, channels: 3 });
    expect(rgb.length).toBe(28 * 28 * 3);
    expect([rgb[30], rgb[31], rgb[32]]).toEqual([grey[10], grey[10], grey[10]]);
  });

  it('drops alpha from RGBA and converts to grey with BT.601 luma', async () => {
    const rgb = await bothPaths(rgbaPng, { height: 16, width: 16, channels: 3 });
    const grey = await bothPaths(rgbaPng, { height: 16, width: 16, channels: 1 });
    for (const p of [0, 17, 255]) {
      const [r, g, b] = [rgbaPixels[p * 4] ?? 0, rgbaPixels[p * 4 + 1] ?? 0, rgbaPixels[p * 4 + 2] ?? 0];
      expect([rgb[p * 3], rgb[p * 3 + 1], rgb[p * 3 + 2]]).toEqual([r, g, b]);
      expect(grey[p]).toBe(luma(r, g, b));
    }
    expect(luma(255, 0, 0)).toBe(76);
  });

  it('reduces 16-bit PNGs to their high byte', async () => {
    const rng = createRng(4);
    const wideRgb = Uint16Array.from({ length: 8 * 8 * 3 }, () => rng.int(65536));
    const rgbPng = encode({ width: 8, height: 8, channels: 3, depth: 16, data: wideRgb });
    const rgb = await bothPaths(rgbPng, { height: 8, width: 8, channels: 3 });
    expect(Array.from(rgb)).toEqual(Array.from(wideRgb, (v) => v >> 8));
    const wideGrey = Uint16Array.from({ length: 8 * 8 }, () => rng.int(65536));
    const greyPng = encode({ width: 8, height: 8, channels: 1, depth: 16, data: wideGrey });
    const grey = await bothPaths(greyPng, { height: 8, width: 8, channels: 1 });
    expect(maxDiff(grey, Uint8Array.from(wideGrey, (v) => v >> 8))).toBeLessThanOrEqual(1);
  });

  it('decodes palette PNGs on the fast path like sharp does', async () => {
    const palettePng = await sharp(Buffer.from(rgbaPixels), { raw: { width: 16, height: 16, channels: 4 } })
      .png({ palette: true, colours: 16, dither: 0 })
      .toBuffer();
    expect(palettePng[25]).toBe(3); // IHDR colour type: palette
    await bothPaths(palettePng, { height: 16, width: 16, channels: 3 });
    await bothPaths(palettePng, { height: 16, width: 16, channels: 1 });
  });

  it('applies EXIF orientation to JPEGs', async () => {
    // 40 wide x 20 tall, left half white. Orientation 6 means "rotate 90 degrees clockwise to
    // display", so the decoded image is 20 wide x 40 tall with the white half on top.
    const raw = Uint8Array.from({ length: 40 * 20 }, (_, i) => (i % 40 < 20 ? 255 : 0));
    const jpeg = await sharp(Buffer.from(raw), { raw: { width: 40, height: 20, channels: 1 } })
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    expect((await sharp(jpeg).metadata()).orientation).toBe(6);
    const out = await decodeToTensor(jpeg, { height: 40, width: 20, channels: 1 });
    const mean = (rows: [number, number]) => {
      let sum = 0;
      for (let i = rows[0] * 20; i < rows[1] * 20; i++) sum += out[i] ?? 0;
      return sum / ((rows[1] - rows[0]) * 20);
    };
    expect(mean([0, 18])).toBeGreaterThan(240);
    expect(mean([22, 40])).toBeLessThan(15);
  });

  it('resizes through sharp when the size differs, with fill, contain and cover', async () => {
    const halves = Uint8Array.from({ length: 56 * 56 }, (_, i) => (i % 56 < 28 ? 200 : 50));
    const big = encode({ width: 56, height: 56, channels: 1, depth: 8, data: halves });
    const options = { height: 28, width: 28, channels: 1 } as const;
    expect(chooseDecoder(big, options)).toBe('sharp');
    const small = await decodeToTensor(big, options);
    expect(small.length).toBe(784);
    expect([small[5 * 28 + 3], small[20 * 28 + 24]]).toEqual([200, 50]);

    const wide = encode({ width: 40, height: 20, channels: 1, depth: 8, data: new Uint8Array(800).fill(255) });
    const contain = await decodeToTensor(wide, { height: 20, width: 20, channels: 1, fit: 'contain' });
    expect([contain[2 * 20 + 10], contain[10 * 20 + 10], contain[17 * 20 + 10]]).toEqual([0, 255, 0]);
    const cover = await decodeToTensor(wide, { height: 20, width: 20, channels: 1, fit: 'cover' });
    expect(Math.min(...cover)).toBe(255);
    const fill = await decodeToTensor(wide, { height: 20, width: 20, channels: 3, fit: 'fill' });
    expect(Math.min(...fill)).toBe(255);
  });

  it('names the key when bytes are corrupt, truncated or empty', async () => {
    const options = { height: 16, width: 16, channels: 3, key: 'user/cat/broken.png' } as const;
    const notAnImage = decodeToTensor(new TextEncoder().encode('definitely not an image'), options);
    await expect(notAnImage).rejects.toThrow(ImageDecodeError);
    await expect(decodeToTensor(new TextEncoder().encode('definitely not an image'), options)).rejects.toThrow(/^user\/cat\/broken\.png: cannot decode image \(sharp\)/);

    const flipped = Uint8Array.from(rgbaPng);
    flipped[60] = (flipped[60] ?? 0) ^ 0xff; // inside IDAT: only the chunk CRC can notice
    expect(chooseDecoder(flipped, options)).toBe('fast-png');
    await expect(decodeToTensor(flipped, options)).rejects.toThrow(/^user\/cat\/broken\.png: cannot decode image \(fast-png\)/);

    await expect(decodeToTensor(rgbaPng.subarray(0, 80), options)).rejects.toThrow(/^user\/cat\/broken\.png: /);
    await expect(decodeToTensor(new Uint8Array(0), options)).rejects.toThrow(/^user\/cat\/broken\.png: file is empty/);
  });

  it('rejects a bad target, naming the field and value', async () => {
    await expect(decodeToTensor(rgbaPng, { height: 0, width: 16, channels: 3 })).rejects.toThrow(/height must be an integer in \[1, 16384\], got 0/);
    await expect(decodeToTensor(rgbaPng, { height: 16, width: 16, channels: 2 as 1 })).rejects.toThrow(/channels must be 1 or 3, got 2/);
  });
});
