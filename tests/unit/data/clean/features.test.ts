import { encode } from 'fast-png';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { sampleDataPath } from '../../../../infra/tools.js';
import { createRng } from '../../../../src/core/rng.js';
import { FEATURE_NAMES, FEATURE_VECTOR_NAMES, featureVector, imageFeatures } from '../../../../src/data/clean/features.js';
import { IsolationForest, topOutliers } from '../../../../src/data/clean/isolation-forest.js';
import { readMnistSplit } from '../../../../src/data/mnist-idx.js';

const SOURCE = { width: 28, height: 28, bytes: 400 };

async function photo(name: string, side: number, blur?: number): Promise<Uint8Array> {
  let image = sharp(sampleDataPath('skimage', name)).removeAlpha().toColourspace('srgb').resize(side, side, { fit: 'fill' });
  if (blur !== undefined) image = sharp(await image.png().toBuffer()).blur(blur);
  return new Uint8Array(await image.raw().toBuffer());
}

describe('imageFeatures', () => {
  it('computes the statistics on small known images', () => {
    const flat = imageFeatures(new Uint8Array(16).fill(77), 4, 4, 1, SOURCE);
    expect(flat).toEqual({ blur: 0, brightness: 77, contrast: 0, entropy: 0, width: 28, height: 28, bytes: 400 });
    // Half black, half white: 1 bit, std 127.5.
    const halves = imageFeatures(Uint8Array.from({ length: 16 }, (_, i) => (i < 8 ? 0 : 255)), 4, 4, 1, SOURCE);
    expect(halves.entropy).toBeCloseTo(1, 12);
    expect(halves.brightness).toBe(127.5);
    expect(halves.contrast).toBe(127.5);
    // Every level once: 8 bits.
    expect(imageFeatures(Uint8Array.from({ length: 256 }, (_, i) => i), 16, 16, 1, SOURCE).entropy).toBeCloseTo(8, 12);
    // A single bright pixel in the middle of 3x3: Laplacian -4 * 100 at the one interior pixel.
    const dot = new Uint8Array(9);
    dot[4] = 100;
    expect(imageFeatures(dot, 3, 3, 1, SOURCE).blur).toBe(0);
    // Interior of 4x3 has two pixels: responses -400 and 100, variance 62500.
    const dot2 = new Uint8Array(12);
    dot2[5] = 100;
    expect(imageFeatures(dot2, 3, 4, 1, SOURCE).blur).toBe(62_500);
    expect(imageFeatures(new Uint8Array(2), 1, 2, 1, SOURCE).blur).toBe(0);
    // RGB goes through BT.601 luma: pure green 255 -> 150.
    const green = Uint8Array.from({ length: 27 }, (_, i) => (i % 3 === 1 ? 255 : 0));
    expect(imageFeatures(green, 3, 3, 3, SOURCE).brightness).toBe(150);
    expect(FEATURE_NAMES).toEqual(['blur', 'brightness', 'contrast', 'entropy', 'width', 'height', 'bytes']);
  });

  it('sharp photos have a higher Laplacian variance than their blurred versions', async () => {
    for (const name of ['astronaut.png', 'camera.png', 'coffee.png']) {
      for (const side of [64, 224]) {
        const sharpPixels = await photo(name, side);
        const blurred = await photo(name, side, 2);
        const a = imageFeatures(sharpPixels, side, side, 3, SOURCE);
        const b = imageFeatures(blurred, side, side, 3, SOURCE);
        expect(a.blur, `${name} at ${side}`).toBeGreaterThan(2 * b.blur);
        // Blurring barely moves the exposure.
        expect(Math.abs(a.brightness - b.brightness)).toBeLessThan(3);
        expect(a.contrast).toBeGreaterThan(b.contrast);
      }
    }
  });

  it('validates arguments', () => {
    expect(() => imageFeatures(new Uint8Array(3), 1, 1, 1, SOURCE)).toThrow(/1\*1\*1 = 1 samples, got 3/);
    expect(() => imageFeatures(new Uint8Array(1), 1, 1, 1, { width: 0, height: 1, bytes: 1 })).toThrow(/source.width must be an integer >= 1, got 0/);
    expect(() => imageFeatures(new Uint8Array(1), 1, 1, 1, { width: 1, height: 1, bytes: -1 })).toThrow(/source.bytes must be an integer >= 0, got -1/);
  });
});

describe('featureVector', () => {
  it('transforms heavy-tailed features and adds aspect ratio and bits per pixel', () => {
    const v = featureVector({ blur: 1000, brightness: 100, contrast: 40, entropy: 6, width: 640, height: 480, bytes: 38_400 });
    expect(v).toHaveLength(FEATURE_VECTOR_NAMES.length);
    expect(v[0]).toBeCloseTo(Math.log1p(1000), 12);
    expect(v.slice(1, 4)).toEqual([100, 40, 6]);
    expect(v[4]).toBeCloseTo(Math.log1p(640 * 480), 12);
    expect(v[5]).toBeCloseTo(Math.log(4 / 3), 12);
    expect(v[6]).toBeCloseTo(Math.log1p(38_400), 12);
    // 38,400 bytes over 307,200 pixels: 1 bit per pixel.
    expect(v[7]).toBeCloseTo(Math.log(2), 12);
  });
});

describe('outliers among MNIST features', () => {
  it('puts an inserted blank and a noise image among the top outliers', async () => {
    const mnist = await readMnistSplit('train');
    const count = 5000;
    const images: Uint8Array[] = [];
    for (let i = 0; i < count; i++) images.push(mnist.pixels.subarray(i * 784, (i + 1) * 784));
    const rng = createRng(9);
    const blankAt = 1234;
    const noiseAt = 4321;
    images.splice(blankAt, 0, new Uint8Array(784));
    images.splice(noiseAt, 0, Uint8Array.from({ length: 784 }, () => rng.int(256)));
    const started = performance.now();
    // Source sizes from a real encoding, as the pipeline sees them.
    const rows = images.map((pixels) => {
      const bytes = encode({ width: 28, height: 28, channels: 1, depth: 8, data: pixels }).length;
      return featureVector(imageFeatures(pixels, 28, 28, 1, { width: 28, height: 28, bytes }));
    });
    const featuresMs = performance.now() - started;
    const fitStarted = performance.now();
    const forest = IsolationForest.fit(rows, { trees: 100, sampleSize: 256, seed: 1 });
    const scores = forest.scoreAll(rows);
    const forestMs = performance.now() - fitStarted;
    // The pipeline's default contamination: 0.2% of 5002 -> 11 images.
    const top = topOutliers(scores, 0.002);
    console.log(
      `MNIST ${rows.length} images: features+PNG ${featuresMs.toFixed(0)} ms, forest fit+score ${forestMs.toFixed(0)} ms; ` +
        `top outliers ${top.map((i) => `${i}:${(scores[i] as number).toFixed(3)}`).join(' ')}`,
    );
    expect(top).toHaveLength(11);
    // Both among the 11 (over seeds 1-10: the blank ranks first or second, the noise image 1st-6th;
    // a point beyond every subsample's range scores no higher than the range's extreme rows).
    expect(top).toContain(blankAt);
    expect(top).toContain(noiseAt);

    // Pixel features alone (every source the same size) find them too.
    const pixelOnly = images.map((pixels) => featureVector(imageFeatures(pixels, 28, 28, 1, SOURCE)));
    const pixelTop = topOutliers(IsolationForest.fit(pixelOnly, { trees: 100, sampleSize: 256, seed: 2 }).scoreAll(pixelOnly), 0.002);
    expect(pixelTop).toContain(blankAt);
    expect(pixelTop).toContain(noiseAt);
  });
});
