import { describe, expect, it } from 'vitest';
import { augmentationPolicySchema, type AugmentationPolicy } from '../../../src/core/config.js';
import { createRng, type Rng } from '../../../src/core/rng.js';
import {
  augmentBatch,
  augmentImage,
  expandOffline,
  isIdentityPolicy,
  offlineSeed,
  onlineSeed,
  validatePolicy,
} from '../../../src/data/augment.js';

const policy = (p: Partial<AugmentationPolicy> = {}): AugmentationPolicy => augmentationPolicySchema.parse(p);

function noise(length: number, seed: number): Uint8Array {
  const rng = createRng(seed);
  return Uint8Array.from({ length }, () => rng.int(256));
}

/**
 * A generator that returns chosen uniforms, in the documented draw order: rotation, zoom,
 * shift x, shift y, hflip, vflip, brightness, contrast; then int() for the noise seed. A
 * uniform of 1 picks the top of a range, 0.5 its middle (no change).
 */
function scripted(values: Partial<Record<'rotation' | 'zoom' | 'shiftX' | 'shiftY' | 'hflip' | 'vflip' | 'brightness' | 'contrast', number>>, counter?: { draws: number }): Rng {
  const order = [values.rotation ?? 0.5, values.zoom ?? 0.5, values.shiftX ?? 0.5, values.shiftY ?? 0.5,
    values.hflip ?? 0.99, values.vflip ?? 0.99, values.brightness ?? 0.5, values.contrast ?? 0.5];
  let i = 0;
  return {
    next: () => {
      if (counter) counter.draws++;
      const v = order[i++];
      if (v === undefined) throw new Error('more uniforms drawn than the documented 8');
      return v;
    },
    int: () => {
      if (counter) counter.draws++;
      return 12345;
    },
  };
}

function at(img: Uint8Array, w: number, c: number, y: number, x: number, k = 0): number {
  return img[(y * w + x) * c + k]!;
}

/** Straightforward float bilinear sample with a black border, the reference for the warp. */
function referenceWarp(src: Uint8Array, h: number, w: number, c: number, m: number[]): Uint8Array {
  const [m00, m01, m02, m10, m11, m12] = m as [number, number, number, number, number, number];
  const out = new Uint8Array(h * w * c);
  const get = (x: number, y: number, k: number): number => (x < 0 || y < 0 || x >= w || y >= h ? 0 : src[(y * w + x) * c + k]!);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const sx = m00 * x + m01 * y + m02;
      const sy = m10 * x + m11 * y + m12;
      const x0 = Math.floor(sx);
      const y0 = Math.floor(sy);
      const fx = sx - x0;
      const fy = sy - y0;
      for (let k = 0; k < c; k++) {
        const v = (get(x0, y0, k) * (1 - fx) + get(x0 + 1, y0, k) * fx) * (1 - fy) + (get(x0, y0 + 1, k) * (1 - fx) + get(x0 + 1, y0 + 1, k) * fx) * fy;
        out[(y * w + x) * c + k] = Math.round(v);
      }
    }
  }
  return out;
}

describe('augmentation policy', () => {
  it('the default policy is the identity; any non-zero field is not', () => {
    expect(isIdentityPolicy(policy())).toBe(true);
    for (const field of ['rotationDeg', 'shift', 'hflip', 'vflip', 'zoom', 'brightness', 'contrast', 'gaussianNoiseStd', 'saltPepper'] as const) {
      expect(isIdentityPolicy({ ...policy(), [field]: 0.1 })).toBe(false);
    }
  });

  it('validatePolicy names the bad field', () => {
    expect(() => validatePolicy({ ...policy(), rotationDeg: 400 })).toThrow(/rotationDeg/);
    expect(() => validatePolicy({ ...policy(), hflip: -0.1 })).toThrow(/hflip/);
    expect(() => validatePolicy({ ...policy(), zoom: Number.NaN })).toThrow(/zoom/);
    expect(() => validatePolicy(policy({ rotationDeg: 15, shift: 0.1 }))).not.toThrow();
  });
});

describe('augmentImage', () => {
  it('the identity policy returns the image unchanged, into a new array or in place', () => {
    const img = noise(7 * 5 * 3, 1);
    const out = augmentImage(img, [7, 5, 3], policy(), createRng(1));
    expect(out).not.toBe(img);
    expect(out).toEqual(img);
    const copy = img.slice();
    expect(augmentImage(copy, [7, 5, 3], policy(), createRng(1), copy)).toBe(copy);
    expect(copy).toEqual(img);
  });

  it.each([1, 3, 4])('flips are exact mirrors (%i channels), in place too', (c) => {
    const [h, w] = [5, 7];
    const img = noise(h * w * c, 2);
    const h1 = augmentImage(img, [h, w, c], policy({ hflip: 1 }), createRng(3));
    const v1 = augmentImage(img, [h, w, c], policy({ vflip: 1 }), createRng(3));
    const both = augmentImage(img, [h, w, c], policy({ hflip: 1, vflip: 1 }), createRng(3));
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        for (let k = 0; k < c; k++) {
          expect(at(h1, w, c, y, x, k)).toBe(at(img, w, c, y, w - 1 - x, k));
          expect(at(v1, w, c, y, x, k)).toBe(at(img, w, c, h - 1 - y, x, k));
          expect(at(both, w, c, y, x, k)).toBe(at(img, w, c, h - 1 - y, w - 1 - x, k));
        }
      }
    }
    for (const [p, expected] of [[policy({ hflip: 1 }), h1], [policy({ vflip: 1 }), v1], [policy({ hflip: 1, vflip: 1 }), both]] as const) {
      const inPlace = img.slice();
      augmentImage(inPlace, [h, w, c], p, createRng(3), inPlace);
      expect(inPlace).toEqual(expected);
      // Even sizes too: no middle row or column stays put.
      const even = noise(4 * 6 * c, 3);
      const viaCopy = augmentImage(even, [4, 6, c], p, createRng(3));
      augmentImage(even, [4, 6, c], p, createRng(3), even);
      expect(even).toEqual(viaCopy);
    }
  });

  it('a 90 degree rotation of a square image moves pixels exactly', () => {
    const n = 9;
    const img = noise(n * n, 4);
    const out = augmentImage(img, [n, n, 1], policy({ rotationDeg: 90 }), scripted({ rotation: 1 }));
    for (let y = 0; y < n; y++) {
      for (let x = 0; x < n; x++) expect(at(out, n, 1, y, x)).toBe(at(img, n, 1, n - 1 - x, y));
    }
  });

  it('a whole-pixel shift moves pixels and fills with black; a half-pixel shift averages neighbours', () => {
    const [h, w] = [4, 8];
    const img = noise(h * w, 5);
    // shift 0.5 of width 8, uniform 0.75: +2 px right; y unchanged.
    const out = augmentImage(img, [h, w, 1], policy({ shift: 0.5 }), scripted({ shiftX: 0.75 }));
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) expect(at(out, w, 1, y, x)).toBe(x < 2 ? 0 : at(img, w, 1, y, x - 2));
    }
    // shift 0.125 of width 8, uniform 0.75: +0.5 px right.
    const half = augmentImage(img, [h, w, 1], policy({ shift: 0.125 }), scripted({ shiftX: 0.75 }));
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const left = x === 0 ? 0 : at(img, w, 1, y, x - 1);
        expect(Math.abs(at(half, w, 1, y, x) - (left + at(img, w, 1, y, x)) / 2)).toBeLessThanOrEqual(0.5);
      }
    }
  });

  it.each([
    ['grey, wider than a fixed-point segment', [40, 300, 1]],
    ['rgb', [33, 47, 3]],
    ['two channels', [20, 17, 2]],
  ] as const)('rotation + zoom + shift + flip match a float bilinear reference within 1 level (%s)', (_name, shape) => {
    const [h, w, c] = shape;
    const img = noise(h * w * c, 6);
    const p = policy({ rotationDeg: 30, zoom: 0.3, shift: 0.2, hflip: 1 });
    for (const draw of [{ rotation: 0.9, zoom: 0.1, shiftX: 0.8, shiftY: 0.3 }, { rotation: 0.2, zoom: 0.95, shiftX: 0.1, shiftY: 0.7 }]) {
      const out = augmentImage(img, shape, p, scripted({ ...draw, hflip: 0 }));
      const angle = (2 * draw.rotation - 1) * 30 * (Math.PI / 180);
      const scale = 1 + (2 * draw.zoom - 1) * 0.3;
      const tx = (2 * draw.shiftX - 1) * 0.2 * w;
      const ty = (2 * draw.shiftY - 1) * 0.2 * h;
      // Inverse of out = C + T + R * s * Fx * (in - C), written out independently.
      const cx = (w - 1) / 2;
      const cy = (h - 1) / 2;
      const cos = Math.cos(angle) / scale;
      const sin = Math.sin(angle) / scale;
      const m00 = -cos;
      const m01 = -sin;
      const m10 = -sin;
      const m11 = cos;
      const m = [m00, m01, cx - m00 * (cx + tx) - m01 * (cy + ty), m10, m11, cy - m10 * (cx + tx) - m11 * (cy + ty)];
      const expected = referenceWarp(img, h, w, c, m);
      let worst = 0;
      for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i]! - expected[i]!));
      expect(worst).toBeLessThanOrEqual(1);
    }
  });

  it('brightness adds, contrast scales about the mean, both clamp', () => {
    const img = Uint8Array.from([0, 50, 100, 150, 200, 250]);
    // brightness 0.2 at the top of its range: +51.
    const bright = augmentImage(img, [2, 3, 1], policy({ brightness: 0.2 }), scripted({ brightness: 1 }));
    expect(Array.from(bright)).toEqual([51, 101, 151, 201, 251, 255]);
    // contrast 0.5 at the top: factor 1.5 about the mean 125.
    const contrast = augmentImage(img, [2, 3, 1], policy({ contrast: 0.5 }), scripted({ contrast: 1 }));
    expect(Array.from(contrast)).toEqual([0, 13, 88, 163, 238, 255]);
    // at the bottom: factor 0.5.
    const flat = augmentImage(img, [2, 3, 1], policy({ contrast: 0.5 }), scripted({ contrast: 0 }));
    expect(Array.from(flat)).toEqual([63, 88, 113, 138, 163, 188]);
  });

  it('gaussian noise has the asked standard deviation; salt-and-pepper the asked fraction', () => {
    const [h, w, c] = [64, 64, 3];
    const grey = new Uint8Array(h * w * c).fill(128);
    const noisy = augmentImage(grey, [h, w, c], policy({ gaussianNoiseStd: 10 }), createRng(7));
    let sum = 0;
    let squares = 0;
    for (const v of noisy) {
      sum += v - 128;
      squares += (v - 128) ** 2;
    }
    const mean = sum / noisy.length;
    expect(Math.abs(mean)).toBeLessThan(0.5);
    expect(Math.sqrt(squares / noisy.length - mean * mean)).toBeCloseTo(10, 0);

    const dotted = augmentImage(grey, [h, w, c], policy({ saltPepper: 0.1 }), createRng(8));
    let salt = 0;
    let pepper = 0;
    for (let p = 0; p < h * w; p++) {
      const px = Array.from(dotted.subarray(p * c, p * c + c));
      if (px.every((v) => v === 255)) salt++;
      else if (px.every((v) => v === 0)) pepper++;
      else expect(px).toEqual([128, 128, 128]);
    }
    expect((salt + pepper) / (h * w)).toBeGreaterThan(0.09);
    expect((salt + pepper) / (h * w)).toBeLessThan(0.11);
    expect(Math.abs(salt - pepper) / (salt + pepper)).toBeLessThan(0.1);
  });

  it('draws exactly 9 values per image whatever the policy', () => {
    for (const p of [policy(), policy({ rotationDeg: 10, gaussianNoiseStd: 3, saltPepper: 0.01 }), policy({ hflip: 1, contrast: 0.2 })]) {
      const counter = { draws: 0 };
      augmentImage(noise(36, 1), [6, 6, 1], p, scripted({}, counter));
      expect(counter.draws).toBe(9);
    }
  });

  it('the same seed gives the same image; different seeds differ', () => {
    const img = noise(28 * 28, 9);
    const p = policy({ rotationDeg: 15, shift: 0.1, zoom: 0.1, brightness: 0.1, contrast: 0.1, gaussianNoiseStd: 4, saltPepper: 0.01 });
    const a = augmentImage(img, [28, 28, 1], p, createRng(42));
    expect(augmentImage(img, [28, 28, 1], p, createRng(42))).toEqual(a);
    expect(augmentImage(img, [28, 28, 1], p, createRng(43))).not.toEqual(a);
  });

  it('rejects a wrong size, naming the shape', () => {
    expect(() => augmentImage(new Uint8Array(10), [3, 3, 1], policy(), createRng(1))).toThrow(/\[3, 3, 1\] needs 9 bytes, got 10/);
    expect(() => augmentImage(new Uint8Array(9), [3, 3, 1], policy(), createRng(1), new Uint8Array(8))).toThrow(/output must hold 9/);
    expect(() => augmentImage(new Uint8Array(9), [3, 0, 1], policy(), createRng(1))).toThrow(/width/);
  });
});

describe('augmentBatch', () => {
  const shape = [12, 10, 3] as const;
  const n = 12 * 10 * 3;
  const p = policy({ rotationDeg: 20, shift: 0.1, zoom: 0.2, hflip: 0.5, brightness: 0.1, gaussianNoiseStd: 5 });

  it('an image comes out the same whatever batch it is in, in place or not', () => {
    const batch = noise(6 * n, 10);
    const seeds = [11, 22, 33, 44, 55, 66];
    const out = augmentBatch(batch, 6, shape, p, (i) => seeds[i]!, new Uint8Array(6 * n));
    for (let i = 0; i < 6; i++) {
      const alone = augmentImage(batch.subarray(i * n, (i + 1) * n), shape, p, createRng(seeds[i]!));
      expect(out.subarray(i * n, (i + 1) * n)).toEqual(alone);
    }
    // Images 3..5 as a batch of their own.
    const tail = augmentBatch(batch.slice(3 * n), 3, shape, p, (i) => seeds[i + 3]!);
    expect(tail).toEqual(out.subarray(3 * n));
    // In place over the whole batch.
    const inPlace = batch.slice();
    expect(augmentBatch(inPlace, 6, shape, p, (i) => seeds[i]!)).toBe(inPlace);
    expect(inPlace).toEqual(out);
  });

  it('leaves images past count alone and checks sizes', () => {
    const batch = noise(3 * n, 12);
    const copy = batch.slice();
    augmentBatch(batch, 2, shape, p, (i) => i);
    expect(batch.subarray(2 * n)).toEqual(copy.subarray(2 * n));
    expect(batch.subarray(0, n)).not.toEqual(copy.subarray(0, n));
    expect(() => augmentBatch(batch, 4, shape, p, (i) => i)).toThrow(/count must be an integer in \[0, 3\]/);
    expect(() => augmentBatch(batch, 2, shape, { ...p, shift: 2 }, (i) => i)).toThrow(/shift/);
  });

  it('online seeds depend on (seed, epoch, position) only', () => {
    expect(onlineSeed(7, 2, 5)).toBe(onlineSeed(7, 2, 5));
    expect(new Set([onlineSeed(7, 2, 5), onlineSeed(7, 3, 5), onlineSeed(7, 2, 6), onlineSeed(8, 2, 5), offlineSeed(7, 2, 5)]).size).toBe(5);
  });
});

describe('expandOffline', () => {
  const shape = [8, 8, 1] as const;
  const n = 64;
  const p = policy({ rotationDeg: 15, shift: 0.1 });

  it('keeps the original as copy 0 and labels every copy', () => {
    const images = noise(3 * n, 13);
    const labels = Int32Array.from([4, 7, 1]);
    const out = expandOffline(images, labels, 3, shape, p, 4, 99, 0);
    expect(out.count).toBe(12);
    expect(Array.from(out.labels)).toEqual([4, 4, 4, 4, 7, 7, 7, 7, 1, 1, 1, 1]);
    for (let i = 0; i < 3; i++) {
      expect(out.images.subarray(i * 4 * n, (i * 4 + 1) * n)).toEqual(images.subarray(i * n, (i + 1) * n));
      for (let k = 1; k < 4; k++) {
        const copy = out.images.subarray((i * 4 + k) * n, (i * 4 + k + 1) * n);
        expect(copy).toEqual(augmentImage(images.subarray(i * n, (i + 1) * n), shape, p, createRng(offlineSeed(99, i, k))));
      }
    }
    // factor 1 is a plain copy.
    expect(expandOffline(images, labels, 3, shape, p, 1, 99, 0).images).toEqual(images);
  });

  it('expanding chunk by chunk gives the same bytes as expanding at once', () => {
    const images = noise(5 * n, 14);
    const labels = Int32Array.from([0, 1, 2, 3, 4]);
    const whole = expandOffline(images, labels, 5, shape, p, 3, 5, 100);
    const first = expandOffline(images.subarray(0, 2 * n), labels.subarray(0, 2), 2, shape, p, 3, 5, 100);
    const second = expandOffline(images.subarray(2 * n), labels.subarray(2), 3, shape, p, 3, 5, 102);
    expect(whole.images).toEqual(Uint8Array.from([...first.images, ...second.images]));
    expect(whole.labels).toEqual(Int32Array.from([...first.labels, ...second.labels]));
  });

  it('checks its arguments', () => {
    const images = noise(2 * n, 15);
    const labels = Int32Array.from([0, 1]);
    expect(() => expandOffline(images, labels, 2, shape, p, 0, 1, 0)).toThrow(/factor/);
    expect(() => expandOffline(images, labels, 3, shape, p, 2, 1, 0)).toThrow(/count/);
    expect(() => expandOffline(images, labels.subarray(0, 1), 2, shape, p, 2, 1, 0)).toThrow(/labels/);
    expect(() => expandOffline(images, labels, 2, shape, p, 2, 1, -1)).toThrow(/firstIndex/);
  });
});
