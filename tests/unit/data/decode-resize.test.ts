import { describe, expect, it } from 'vitest';
import { resizeBilinear } from '../../../src/data/decode-resize.js';

// Reference samples from Pillow 9.4: Image.frombytes(mode, (13, 9), src).resize(size, BILINEAR).
const W = 13;
const H = 9;
const grey = Uint8Array.from({ length: W * H }, (_, i) => Number((BigInt(i) * 2654435761n) >> 24n) & 255);
const rgb = Uint8Array.from({ length: W * H * 3 }, (_, i) => ((i * 40503 + 7) >> 3) & 255);

const PILLOW: [number, number, Uint8Array, number, number[]][] = [
  [5, 4, grey, 1, [99, 135, 125, 140, 141, 116, 152, 127, 101, 159, 124, 109, 146, 113, 144, 138, 107, 164, 126, 95]],
  [4, 14, grey, 1, [105, 115, 145, 134, 109, 119, 149, 138, 114, 125, 147, 143, 120, 131, 108, 142, 126, 137, 97, 145, 131, 142, 102, 150, 137, 148, 108, 156, 131, 139, 114, 162, 112, 115, 120, 168, 116, 119, 125, 122, 122, 125, 130, 94, 128, 131, 136, 99, 133, 136, 142, 105, 137, 140, 146, 109]],
  [13, 3, grey, 1, [11, 169, 71, 229, 131, 34, 192, 94, 156, 154, 57, 215, 117, 35, 193, 95, 168, 156, 58, 216, 118, 21, 179, 81, 211, 141, 59, 217, 120, 22, 180, 82, 241, 143, 45, 203, 105, 40, 166]],
  [6, 4, rgb, 3, [122, 101, 137, 161, 104, 135, 163, 106, 129, 156, 99, 129, 156, 99, 130, 159, 102, 127, 144, 109, 118, 144, 133, 114, 141, 133, 111, 138, 145, 113, 139, 140, 110, 139, 126, 106, 126, 146, 100, 122, 148, 97, 118, 150, 128, 120, 147, 117, 117, 144, 112, 113, 144, 120, 104, 129, 156, 101, 133, 146, 102, 132, 155, 103, 125, 157, 96, 127, 157, 94, 130, 152]],
];

describe('resizeBilinear', () => {
  it("gives Pillow's BILINEAR samples when shrinking, enlarging, or one of each", () => {
    for (const [width, height, src, channels, expected] of PILLOW) {
      const out = resizeBilinear(src, W, H, channels, width, height, new Uint8Array(width * height * channels));
      expect({ width, height, out: Array.from(out) }).toEqual({ width, height, out: expected });
    }
  });

  it('averages every source pixel under an output pixel when shrinking (anti-aliased)', () => {
    // A one-pixel checkerboard shrunk 4x is flat grey, not aliased stripes.
    const board = Uint8Array.from({ length: 64 * 64 }, (_, i) => (((i % 64) + Math.floor(i / 64)) % 2 === 0 ? 0 : 255));
    const out = resizeBilinear(board, 64, 64, 1, 16, 16, new Uint8Array(256));
    expect(Math.max(...out) - Math.min(...out)).toBeLessThanOrEqual(20);
  });

  it('writes at an offset and refuses buffers that are too small', () => {
    const out = new Uint8Array(2 + 4);
    resizeBilinear(Uint8Array.of(10, 20, 30, 40), 2, 2, 1, 2, 2, out, 2);
    expect(Array.from(out)).toEqual([0, 0, 10, 20, 30, 40]);
    expect(() => resizeBilinear(Uint8Array.of(1, 2, 3), 2, 2, 1, 1, 1, new Uint8Array(1))).toThrow(/needs 4 samples/);
    expect(() => resizeBilinear(Uint8Array.of(1, 2, 3, 4), 2, 2, 1, 2, 2, new Uint8Array(3))).toThrow(/needs 4 bytes/);
  });
});
