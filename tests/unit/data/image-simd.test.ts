import { describe, expect, it } from 'vitest';
import { createRng } from '../../../src/core/rng.js';
import { resizeBilinear } from '../../../src/data/decode-resize.js';
import { hflipSimd, imageSimdReady, prepareImageSimd, unfilterSimd } from '../../../src/data/image-simd.js';
import { unfilterJs } from '../../../src/data/png-fast-decode.js';

function noise(length: number, seed: number): Uint8Array {
  const rng = createRng(seed);
  return Uint8Array.from({ length }, () => rng.int(256));
}

describe('the SIMD resize', () => {
  it('builds, and gives the JS passes\' samples exactly: grey to RGBA, shrinking, enlarging, odd sizes', async () => {
    expect(await prepareImageSimd()).toBe(true);
    expect(imageSimdReady()).toBe(true);
    const cases: [number, number, number, number, number][] = [
      [640, 427, 3, 224, 224], [1000, 872, 3, 224, 224], [512, 512, 1, 224, 224], [301, 157, 1, 224, 224],
      [28, 28, 1, 32, 32], [37, 19, 4, 11, 50], [100, 80, 2, 33, 17], [5, 7, 1, 3, 2], [17, 300, 3, 224, 8],
      [13, 9, 3, 6, 4], [1, 1, 1, 5, 5], [600, 1, 3, 7, 1], [9, 700, 1, 1, 20],
    ];
    for (const [i, [width, height, channels, outWidth, outHeight]] of cases.entries()) {
      const src = noise(width * height * channels, i + 1);
      const size = outWidth * outHeight * channels;
      const js = resizeBilinear(src, width, height, channels, outWidth, outHeight, new Uint8Array(size), 0, false);
      // At an offset, with bytes on either side that must stay as they are.
      const out = new Uint8Array(size + 9).fill(7);
      resizeBilinear(src, width, height, channels, outWidth, outHeight, out, 5);
      const label = `${width}x${height}x${channels} -> ${outWidth}x${outHeight}`;
      expect(Array.from(out.subarray(0, 5)), label).toEqual([7, 7, 7, 7, 7]);
      expect(Array.from(out.subarray(5 + size)), label).toEqual([7, 7, 7, 7]);
      expect(out.subarray(5, 5 + size), label).toEqual(js);
    }
  });

  it('still anti-aliases: a one-pixel checkerboard shrunk 4x is flat grey', async () => {
    expect(await prepareImageSimd()).toBe(true);
    const board = Uint8Array.from({ length: 64 * 64 * 3 }, (_, i) => {
      const p = Math.floor(i / 3);
      return ((p % 64) + Math.floor(p / 64)) % 2 === 0 ? 0 : 255;
    });
    const out = resizeBilinear(board, 64, 64, 3, 16, 16, new Uint8Array(16 * 16 * 3));
    expect(Math.max(...out) - Math.min(...out)).toBeLessThanOrEqual(20);
  });
});

describe('the SIMD PNG unfiltering', () => {
  it("gives the JS unfiltering's bytes for every filter type and pixel stride, and names a bad filter's row", async () => {
    expect(await prepareImageSimd()).toBe(true);
    const rng = createRng(11);
    for (let trial = 0; trial < 240; trial++) {
      const bpp = [1, 2, 3, 4, 6, 8][trial % 6] as number;
      const width = 1 + rng.int(70);
      const height = 1 + rng.int(20);
      const rowBytes = width * bpp;
      const raw = noise(height * (rowBytes + 1), 100 + trial);
      for (let y = 0; y < height; y++) raw[y * (rowBytes + 1)] = rng.int(5);
      const js = new Uint8Array(height * rowBytes);
      unfilterJs(raw, js, height, rowBytes, bpp);
      const simd = new Uint8Array(height * rowBytes);
      expect(unfilterSimd(raw, simd, height, rowBytes, bpp), `trial ${trial}`).toBe(-1);
      expect(simd, `bpp ${bpp}, ${width}x${height}`).toEqual(js);
    }
    const raw = new Uint8Array(3 * 5);
    raw[10] = 7; // row 2's filter type
    expect(unfilterSimd(raw, new Uint8Array(12), 3, 4, 1)).toBe(2);
  });
});

describe('the SIMD flip', () => {
  it('mirrors grey and RGB rows of any width as the pixel-by-pixel definition does', async () => {
    expect(await prepareImageSimd()).toBe(true);
    for (const [h, w, c] of [[224, 224, 3], [7, 5, 3], [20, 19, 3], [3, 1, 3], [33, 17, 1], [224, 224, 1], [2, 16, 1], [1, 1, 1]] as const) {
      const src = noise(h * w * c, h * w + c);
      const expected = new Uint8Array(src.length);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          for (let k = 0; k < c; k++) expected[(y * w + x) * c + k] = src[(y * w + (w - 1 - x)) * c + k] as number;
        }
      }
      const buf = new Uint8Array(src.length + 6).fill(9);
      buf.set(src, 3);
      expect(hflipSimd(buf, 3, h, w, c), `${h}x${w}x${c}`).toBe(true);
      expect(buf.subarray(3, 3 + src.length), `${h}x${w}x${c}`).toEqual(expected);
      expect([...buf.subarray(0, 3), ...buf.subarray(3 + src.length)]).toEqual([9, 9, 9, 9, 9, 9]);
    }
    expect(hflipSimd(new Uint8Array(16), 0, 2, 2, 4)).toBe(false);
  });
});
