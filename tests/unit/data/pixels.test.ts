import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { createRng } from '../../../src/core/rng.js';
import { readMnistSplit } from '../../../src/data/mnist-idx.js';
import { convertChannels, flattenAlpha, luma, reduce16To8, swapRedBlue, upsampleLikeSharp } from '../../../src/data/pixels.js';

function noise(length: number, seed: number): Uint8Array {
  const rng = createRng(seed);
  return Uint8Array.from({ length }, () => rng.int(256));
}

/** sharp's resize of raw pixels, with its default kernel. */
async function sharpResize(src: Uint8Array, width: number, height: number, channels: 1 | 3, outWidth: number, outHeight: number): Promise<Uint8Array> {
  return new Uint8Array(
    await sharp(src, { raw: { width, height, channels } })
      .resize({ width: outWidth, height: outHeight, fit: 'fill' })
      .toColourspace(channels === 1 ? 'b-w' : 'srgb')
      .raw()
      .toBuffer(),
  );
}

function countDiffs(a: Uint8Array, b: Uint8Array): { max: number; differing: number } {
  expect(a.length).toBe(b.length);
  let max = 0;
  let differing = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] ?? 0) - (b[i] ?? 0));
    if (d > 0) differing++;
    max = Math.max(max, d);
  }
  return { max, differing };
}

describe('upsampleLikeSharp', () => {
  const sizes: [number, number, number, number][] = [
    [28, 28, 32, 32],
    [28, 28, 56, 56],
    [30, 30, 31, 31],
    [20, 30, 33, 31],
    [10, 10, 37, 23],
    [16, 16, 16, 40], // one axis unchanged: sharp still resamples it (half-pixel shift)
  ];

  it.each(sizes)('matches sharp exactly on random noise: %ix%i -> %ix%i', async (w, h, ow, oh) => {
    for (const channels of [1, 3] as const) {
      for (let seed = 0; seed < 5; seed++) {
        const src = noise(w * h * channels, seed * 10 + channels);
        const mine = upsampleLikeSharp(src, w, h, channels, ow, oh);
        expect(countDiffs(mine, await sharpResize(src, w, h, channels, ow, oh))).toEqual({ max: 0, differing: 0 });
      }
    }
  });

  it('matches sharp exactly on MNIST digits 28x28 -> 32x32', async () => {
    const test = await readMnistSplit('test');
    for (let n = 0; n < 50; n++) {
      const digit = test.pixels.subarray(n * 784, (n + 1) * 784);
      expect(countDiffs(upsampleLikeSharp(digit, 28, 28, 1, 32, 32), await sharpResize(digit, 28, 28, 1, 32, 32)).max).toBe(0);
    }
  });

  it('writes into a given buffer at an offset, the same pixels as a new array', () => {
    const src = noise(20 * 30 * 3, 3);
    const alone = upsampleLikeSharp(src, 20, 30, 3, 33, 31);
    const out = new Uint8Array(7 + alone.length + 5).fill(9);
    expect(upsampleLikeSharp(src, 20, 30, 3, 33, 31, out, 7)).toBe(out);
    expect(out.subarray(7, 7 + alone.length)).toEqual(alone);
    expect([...out.subarray(0, 7), ...out.subarray(7 + alone.length)]).toEqual(new Array(12).fill(9));
    expect(() => upsampleLikeSharp(src, 20, 30, 3, 33, 31, out, 13)).toThrow(/output needs/);
  });

  it('refuses to shrink and checks the input length', () => {
    expect(() => upsampleLikeSharp(new Uint8Array(16), 4, 4, 1, 3, 4)).toThrow(/only enlarges/);
    expect(() => upsampleLikeSharp(new Uint8Array(15), 4, 4, 1, 8, 8)).toThrow(/needs 16 samples, got 15/);
  });
});

describe('flattenAlpha', () => {
  it("composites RGBA like sharp's flatten", async () => {
    const rgba = noise(32 * 32 * 4, 7);
    const background: [number, number, number] = [30, 200, 90];
    const viaSharp = await sharp(rgba, { raw: { width: 32, height: 32, channels: 4 } })
      .flatten({ background: { r: 30, g: 200, b: 90 } })
      .raw()
      .toBuffer();
    const mine = flattenAlpha(rgba, 32 * 32, 4, background);
    expect(mine.channels).toBe(3);
    expect(countDiffs(mine.data, new Uint8Array(viaSharp)).max).toBe(0);
  });

  it('keeps grey+alpha grey on a grey background and colours it on a coloured one', () => {
    const ga = Uint8Array.from([200, 255, 200, 0, 100, 128]);
    const grey = flattenAlpha(ga, 3, 2, [40, 40, 40]);
    expect(grey).toEqual({ channels: 1, data: Uint8Array.from([200, 40, Math.floor((100 * 128 + 40 * 127) / 255)]) });
    const red = flattenAlpha(ga, 3, 2, [255, 0, 0]);
    expect(red.channels).toBe(3);
    expect(Array.from(red.data.subarray(0, 6))).toEqual([200, 200, 200, 255, 0, 0]);
  });
});

describe('reduce16To8', () => {
  it('scales full-range 16-bit data by 255/65535', () => {
    const wide = Uint16Array.from([0, 257, 32768, 65535]);
    expect(Array.from(reduce16To8(wide, 4, 1, false))).toEqual([0, 1, 128, 255]);
  });

  it('stretches 12-bit data stored in 16 bits, and keeps 8-bit data stored in 16 bits', () => {
    expect(Array.from(reduce16To8(Uint16Array.from([0, 2048, 4095]), 3, 1, false))).toEqual([0, 128, 255]);
    expect(Array.from(reduce16To8(Uint16Array.from([0, 17, 255]), 3, 1, false))).toEqual([0, 17, 255]);
  });

  it('scales alpha as full range whatever the colour range is', () => {
    // Grey+alpha: colour max 255 (8-bit data), alpha 65535 and 32896.
    expect(Array.from(reduce16To8(Uint16Array.from([255, 65535, 10, 32896]), 2, 2, true))).toEqual([255, 255, 10, 128]);
  });
});

describe('channel helpers', () => {
  it('swaps red and blue in place for 3 and 4 channels, and leaves grey alone', () => {
    const bgra = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    swapRedBlue(bgra, 2, 4);
    expect(Array.from(bgra)).toEqual([3, 2, 1, 4, 7, 6, 5, 8]);
    const grey = Uint8Array.from([1, 2]);
    swapRedBlue(grey, 2, 1);
    expect(Array.from(grey)).toEqual([1, 2]);
  });

  it('uses BT.601 luma for grey and keeps grey exact', () => {
    expect(luma(255, 0, 0)).toBe(76);
    expect(luma(0, 255, 0)).toBe(150);
    expect(luma(0, 0, 255)).toBe(29);
    for (const v of [0, 1, 127, 254, 255]) expect(luma(v, v, v)).toBe(v);
    const out = new Uint8Array(2);
    convertChannels(Uint8Array.from([255, 0, 0, 9, 9, 9]), 2, 3, 1, out);
    expect(Array.from(out)).toEqual([76, 9]);
    expect(() => convertChannels(new Uint8Array(5), 2, 3, 1, out)).toThrow(/need 6 samples, got 5/);
  });
});
