import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { jetColour, overlayHeatmapPng, resizeBilinear } from '../../../src/data/heatmap-overlay.js';

async function rgbOf(png: Buffer) {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  return { data, info, at: (x: number, y: number) => Array.from(data.subarray((y * info.width + x) * info.channels, (y * info.width + x) * info.channels + 3)) };
}

describe('resizeBilinear', () => {
  it('interpolates between pixel centres and clamps at the edges', () => {
    expect(Array.from(resizeBilinear(Float32Array.from([0, 1]), 1, 2, 1, 4))).toEqual([0, 0.25, 0.75, 1]);
    const up = resizeBilinear(Float32Array.from([0, 1, 1, 0]), 2, 2, 4, 4);
    expect(up[0]).toBe(0);
    expect(up[3]).toBe(1);
    expect(up[5]).toBeCloseTo(0.375, 6); // (1,1): 3/4 of the way from (0,0) to its neighbours on each axis
    expect(Array.from(resizeBilinear(new Float32Array(9).fill(0.6), 3, 3, 5, 7)).every((v) => Math.abs(v - 0.6) < 1e-6)).toBe(true);
  });

  it('refuses a map that does not have height x width values', () => {
    expect(() => resizeBilinear(new Float32Array(5), 2, 3, 4, 4)).toThrow('heatmap has 5 values, expected height x width = 2 x 3 = 6');
  });
});

describe('jetColour', () => {
  it('runs from dark blue through cyan and yellow to dark red', () => {
    expect(jetColour(0)).toEqual([0, 0, 128]);
    expect(jetColour(0.25)).toEqual([0, 128, 255]);
    expect(jetColour(0.5)).toEqual([128, 255, 128]);
    expect(jetColour(0.75)).toEqual([255, 128, 0]);
    expect(jetColour(1)).toEqual([128, 0, 0]);
    expect(jetColour(7)).toEqual(jetColour(1));
  });
});

describe('overlayHeatmapPng', () => {
  // A 28x28 grey image (mid grey) and a 2x2 heatmap hot only in the top-left cell.
  const grey = new Uint8Array(28 * 28).fill(100);
  const heat = Float32Array.from([1, 0, 0, 0]);

  it('scales a 28x28 image to 112 px and colours the hot region red, the cold one blue', async () => {
    const { info, at } = await rgbOf(await overlayHeatmapPng(grey, [28, 28, 1], heat, 2, 2));
    expect([info.width, info.height]).toEqual([112, 112]);
    const [r, g, b] = at(2, 2);
    expect(r).toBeGreaterThan(b! + 20);
    const far = at(109, 109);
    expect(far[2]).toBeGreaterThan(far[0]! + 20);
    // 0.55 x grey 100 + 0.45 x dark red (128, 0, 0) at the hot corner.
    expect([r, g, b]).toEqual([Math.round(0.55 * 100 + 0.45 * 128), 55, 55]);
  });

  it('with alpha 0 is the image itself, enlarged pixel for pixel; colour images keep their colours', async () => {
    const rgb = new Uint8Array(4 * 2 * 3);
    rgb.set([255, 0, 0], 0); // top-left pixel red
    rgb.set([0, 0, 255], 7 * 3); // bottom-right pixel blue
    const { info, at } = await rgbOf(await overlayHeatmapPng(rgb, [2, 4, 3], new Float32Array(1), 1, 1, { size: 40, alpha: 0 }));
    expect([info.width, info.height]).toEqual([40, 20]);
    expect(at(3, 3)).toEqual([255, 0, 0]);
    expect(at(39, 19)).toEqual([0, 0, 255]);
    expect(at(15, 5)).toEqual([0, 0, 0]);
  });

  it('refuses bad shapes with the value and what was expected', async () => {
    await expect(overlayHeatmapPng(new Uint8Array(10), [28, 28, 1], heat, 2, 2)).rejects.toThrow('image has 10 bytes, expected height x width x channels = 784');
    await expect(overlayHeatmapPng(grey, [28, 28, 1], heat, 2, 2, { alpha: 2 })).rejects.toThrow('overlay alpha must be in [0, 1], got 2');
  });
});
