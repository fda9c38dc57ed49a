/**
 * Seeded image augmentation on packed uint8 HWC pixels, for offline dataset expansion and for
 * online per-batch augmentation while training.
 *
 * Per image, in this order:
 * 1. Geometry: rotation, zoom, shift and flips composed into ONE affine map about the image
 *    centre, inverted once, and sampled with bilinear interpolation in integer arithmetic
 *    (fixed-point source positions, 8-bit weights).
 *    Border: constant 0 (black), as torchvision's RandomAffine fills by default; pixels whose
 *    source lies outside the image are 0 and edge pixels blend towards 0. A map that is only
 *    flips (or nothing) copies pixels exactly, without interpolation.
 * 2. Photometric: brightness (add) and contrast (scale about the image's mean over all
 *    channels), through one 256-entry table per image.
 * 3. Noise: Gaussian (per sample), then salt-and-pepper (per pixel, every channel).
 * Each stage rounds to nearest and clamps to 0..255, as a uint8 pipeline would.
 *
 * Every image draws exactly 9 values from its generator, in a fixed order, whatever the policy
 * (rotation, zoom, shift x, shift y, hflip, vflip, brightness, contrast, noise seed), so turning
 * one transformation on does not change what the others sample. Per-pixel noise comes from a
 * fast inline generator seeded by the ninth draw. Per image, the only allocations are the
 * generator `augmentBatch` seeds for it and, in place, a scratch buffer when the image size
 * changes; the inverse map is computed once per image and stepped in integers per pixel.
 *
 * Measured on one thread of a 2-core AMD EPYC (bench/phase1-vs-pillow.ts prints these too):
 * rotation 10 + shift 0.1 + zoom 0.1 runs at ~125,000 img/s on 28x28x1 and ~1,900 img/s on
 * 224x224x3; a flip at ~600,000 and ~7,000 img/s.
 */
import { augmentationPolicySchema, type AugmentationPolicy } from '../core/config.js';
import { createRng, type Rng } from '../core/rng.js';
import { deriveSeed } from '../ml/seeded-random.js';
import { hflipSimd, prepareImageSimd } from './image-simd.js';

export type ImageShape = readonly [number, number, number];

/** Stream ids mixed into seeds, so offline copies and online batches never share draws. */
const OFFLINE_STREAM = 0x6f66;
const ONLINE_STREAM = 0x6f6e;

/** True when the policy changes nothing: every range and probability is 0. */
export function isIdentityPolicy(p: AugmentationPolicy): boolean {
  return p.rotationDeg === 0 && p.shift === 0 && p.hflip === 0 && p.vflip === 0 && p.zoom === 0
    && p.brightness === 0 && p.contrast === 0 && p.gaussianNoiseStd === 0 && p.saltPepper === 0;
}

/** Throws an Error naming each out-of-range field unless `p` is a valid, complete policy. */
export function validatePolicy(p: AugmentationPolicy, what = 'augmentation policy'): void {
  const parsed = augmentationPolicySchema.safeParse(p);
  if (!parsed.success) {
    throw new Error(`${what}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}`);
  }
  for (const key of Object.keys(parsed.data) as (keyof AugmentationPolicy)[]) {
    if (typeof p[key] !== 'number') throw new Error(`${what}: ${key} must be a number, got ${String(p[key])}`);
  }
}

/** Seed of the generator for copy `copy` (>= 1) of image `index` in an offline expansion. */
export function offlineSeed(seed: number, index: number, copy: number): number {
  return deriveSeed(seed, OFFLINE_STREAM, index, copy);
}

/** Seed of the generator for the image at `position` of epoch `epoch`'s training order. */
export function onlineSeed(seed: number, epoch: number, position: number): number {
  return deriveSeed(seed, ONLINE_STREAM, epoch, position);
}

function checkShape(shape: ImageShape): number {
  const [h, w, c] = shape;
  for (const [name, v] of [['height', h], ['width', w], ['channels', c]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`augment: image ${name} must be an integer >= 1, got ${String(v)}`);
  }
  return h * w * c;
}

// ---------------------------------------------------------------------------------------------
// Per-image parameters, sampled into module-level state (no allocation).

const GEOMETRY_IDENTITY = 0;
const GEOMETRY_FLIPS = 1;
const GEOMETRY_AFFINE = 2;

/** Inverse affine map (output pixel index -> source pixel index) and the other draws. */
const params = {
  geometry: GEOMETRY_IDENTITY,
  hflip: false,
  vflip: false,
  m00: 1,
  m01: 0,
  m02: 0,
  m10: 0,
  m11: 1,
  m12: 0,
  brightness: 0,
  contrast: 1,
  noiseSeed: 0,
};

function sampleParams(policy: AugmentationPolicy, rng: Rng, h: number, w: number): void {
  const angle = (2 * rng.next() - 1) * policy.rotationDeg * (Math.PI / 180);
  const scale = 1 + (2 * rng.next() - 1) * policy.zoom;
  const tx = (2 * rng.next() - 1) * policy.shift * w;
  const ty = (2 * rng.next() - 1) * policy.shift * h;
  params.hflip = rng.next() < policy.hflip;
  params.vflip = rng.next() < policy.vflip;
  params.brightness = (2 * rng.next() - 1) * policy.brightness * 255;
  params.contrast = 1 + (2 * rng.next() - 1) * policy.contrast;
  params.noiseSeed = rng.int(0x100000000);

  if (angle === 0 && scale === 1 && tx === 0 && ty === 0) {
    params.geometry = params.hflip || params.vflip ? GEOMETRY_FLIPS : GEOMETRY_IDENTITY;
    return;
  }
  params.geometry = GEOMETRY_AFFINE;
  // Forward: out = C + T + R * s * F * (in - C). Inverse: in = C + F * R^-1 * (out - C - T) / s.
  const cx = (w - 1) / 2;
  const cy = (h - 1) / 2;
  const cos = Math.cos(angle) / scale;
  const sin = Math.sin(angle) / scale;
  const fx = params.hflip ? -1 : 1;
  const fy = params.vflip ? -1 : 1;
  const m00 = fx * cos;
  const m01 = fx * sin;
  const m10 = -fy * sin;
  const m11 = fy * cos;
  const ox = cx + tx;
  const oy = cy + ty;
  params.m00 = m00;
  params.m01 = m01;
  params.m02 = cx - m00 * ox - m01 * oy;
  params.m10 = m10;
  params.m11 = m11;
  params.m12 = cy - m10 * ox - m11 * oy;
}

// ---------------------------------------------------------------------------------------------
// Geometry.

/** Copies with flips only: exact pixels. `dst` must not overlap `src`. */
function flipInto(src: Uint8Array, so: number, dst: Uint8Array, d: number, h: number, w: number, c: number, hflip: boolean, vflip: boolean): void {
  const row = w * c;
  for (let y = 0; y < h; y++) {
    const from = so + (vflip ? h - 1 - y : y) * row;
    if (!hflip) {
      dst.set(src.subarray(from, from + row), d);
    } else if (c === 1) {
      for (let x = 0, s = from + w - 1; x < w; x++, s--) dst[d + x] = src[s]!;
    } else if (c === 3) {
      for (let o = d, s = from + row - 3; s >= from; o += 3, s -= 3) {
        dst[o] = src[s]!;
        dst[o + 1] = src[s + 1]!;
        dst[o + 2] = src[s + 2]!;
      }
    } else {
      for (let x = 0, s = from + (w - 1) * c; x < w; x++, s -= c) {
        for (let k = 0; k < c; k++) dst[d + x * c + k] = src[s + k]!;
      }
    }
    d += row;
  }
}

/** Flips in place: pixel (y, x) swaps with its mirror, so no scratch copy is needed. */
function flipInPlace(buf: Uint8Array, o: number, h: number, w: number, c: number, hflip: boolean, vflip: boolean): void {
  // Pair every pixel with its mirror once: the first half of the pixels in scan order.
  const pixels = h * w;
  const half = Math.floor(pixels / 2);
  const rows = vflip ? Math.floor(h / 2) : h;
  const cols = vflip ? w : Math.floor(w / 2);
  if (hflip && vflip) {
    for (let p = 0, q = pixels - 1; p < half; p++, q--) swapPixel(buf, o + p * c, o + q * c, c);
    return;
  }
  if (hflip && !vflip && (c === 1 || c === 3)) {
    // The image SIMD module's flip (4x faster on 224x224 RGB), once this thread has built it.
    if (hflipSimd(buf, o, h, w, c)) return;
    void prepareImageSimd();
    // Each row reversed by itself, the swaps written out: a generic per-pixel loop costs ~20 ns a
    // pixel here, this ~1.
    for (let y = 0; y < h; y++) {
      let a = o + y * w * c;
      let b = a + (w - 1) * c;
      if (c === 1) {
        for (; a < b; a++, b--) {
          const t = buf[a]!;
          buf[a] = buf[b]!;
          buf[b] = t;
        }
      } else {
        for (; a < b; a += 3, b -= 3) {
          const r = buf[a]!;
          const g = buf[a + 1]!;
          const bl = buf[a + 2]!;
          buf[a] = buf[b]!;
          buf[a + 1] = buf[b + 1]!;
          buf[a + 2] = buf[b + 2]!;
          buf[b] = r;
          buf[b + 1] = g;
          buf[b + 2] = bl;
        }
      }
    }
    return;
  }
  for (let y = 0; y < rows; y++) {
    const my = vflip ? h - 1 - y : y;
    for (let x = 0; x < cols; x++) {
      const mx = hflip ? w - 1 - x : x;
      swapPixel(buf, o + (y * w + x) * c, o + (my * w + mx) * c, c);
    }
  }
}

function swapPixel(buf: Uint8Array, a: number, b: number, c: number): void {
  for (let k = 0; k < c; k++) {
    const t = buf[a + k]!;
    buf[a + k] = buf[b + k]!;
    buf[b + k] = t;
  }
}

/** Output pixels per run of fixed-point steps before the source position is recomputed exactly. */
const WARP_SEGMENT = 128;

/** Fraction bits of fixed-point source positions for the map in `params` (see warpInto). */
function fixedPointBits(h: number, w: number): number {
  const { m00, m01, m02, m10, m11, m12 } = params;
  // The map is affine, so the largest source coordinate is at a corner.
  const x = w - 1;
  const y = h - 1;
  const bound = Math.max(
    Math.abs(m02), Math.abs(m00 * x + m02), Math.abs(m01 * y + m02), Math.abs(m00 * x + m01 * y + m02),
    Math.abs(m12), Math.abs(m10 * x + m12), Math.abs(m11 * y + m12), Math.abs(m10 * x + m11 * y + m12),
  );
  // Positions (and a segment's worth of steps) stay below 2^29, clear of int32 overflow.
  const bits = Math.min(16, 28 - Math.ceil(Math.log2(bound + 2)));
  if (!(bits >= 9)) throw new RangeError(`augment: the sampled affine map reaches source coordinate ${bound}, too far to resample`);
  return bits;
}

/**
 * Bilinear resampling through the inverse map in `params`, black outside the image.
 * `dst` must not overlap `src`. Source positions are fixed point (16 fraction bits, fewer only
 * where coordinates are large), stepped by integer adds and recomputed every WARP_SEGMENT
 * pixels, so drift stays under 0.002 px; they are rounded to 1/256 px, and the 8-bit weights
 * sum with rounding to nearest. One loop per channel count keeps the hot path branch-free.
 */
function warpInto(src: Uint8Array, so: number, dst: Uint8Array, d: number, h: number, w: number, c: number): void {
  const bits = fixedPointBits(h, w);
  if (c === 1) warpGrey(src, so, dst, d, h, w, bits);
  else if (c === 3) warpRgb(src, so, dst, d, h, w, bits);
  else warpAny(src, so, dst, d, h, w, c, bits);
}

function warpGrey(src: Uint8Array, so: number, dst: Uint8Array, d: number, h: number, w: number, bits: number): void {
  const { m00, m01, m02, m10, m11, m12 } = params;
  const one = 2 ** bits;
  const half = 2 ** (bits - 9);
  const g = bits - 8;
  const stepX = Math.round(m00 * one);
  const stepY = Math.round(m10 * one);
  const wMax = w - 1;
  const hMax = h - 1;
  for (let y = 0; y < h; y++) {
    const rx = m01 * y + m02;
    const ry = m11 * y + m12;
    for (let from = 0; from < w; from += WARP_SEGMENT) {
      const end = Math.min(w, from + WARP_SEGMENT);
      let fx = Math.round((m00 * from + rx) * one) + half;
      let fy = Math.round((m10 * from + ry) * one) + half;
      for (let x = from; x < end; x++, d++, fx += stepX, fy += stepY) {
        const x0 = fx >> bits;
        const y0 = fy >> bits;
        if (x0 >= 0 && y0 >= 0 && x0 < wMax && y0 < hMax) {
          const wx = (fx >> g) & 255;
          const wy = (fy >> g) & 255;
          const ix = 256 - wx;
          const iy = 256 - wy;
          const p = so + y0 * w + x0;
          dst[d] = (src[p]! * ix * iy + src[p + 1]! * wx * iy + src[p + w]! * ix * wy + src[p + w + 1]! * wx * wy + 32768) >>> 16;
        } else {
          dst[d] = borderSample(src, so, w, h, 1, 0, x0, y0, (fx >> g) & 255, (fy >> g) & 255);
        }
      }
    }
  }
}

function warpRgb(src: Uint8Array, so: number, dst: Uint8Array, d: number, h: number, w: number, bits: number): void {
  const { m00, m01, m02, m10, m11, m12 } = params;
  const one = 2 ** bits;
  const half = 2 ** (bits - 9);
  const g = bits - 8;
  const stepX = Math.round(m00 * one);
  const stepY = Math.round(m10 * one);
  const wMax = w - 1;
  const hMax = h - 1;
  const row = w * 3;
  for (let y = 0; y < h; y++) {
    const rx = m01 * y + m02;
    const ry = m11 * y + m12;
    for (let from = 0; from < w; from += WARP_SEGMENT) {
      const end = Math.min(w, from + WARP_SEGMENT);
      let fx = Math.round((m00 * from + rx) * one) + half;
      let fy = Math.round((m10 * from + ry) * one) + half;
      for (let x = from; x < end; x++, d += 3, fx += stepX, fy += stepY) {
        const x0 = fx >> bits;
        const y0 = fy >> bits;
        const wx = (fx >> g) & 255;
        const wy = (fy >> g) & 255;
        if (x0 >= 0 && y0 >= 0 && x0 < wMax && y0 < hMax) {
          const ix = 256 - wx;
          const iy = 256 - wy;
          const w00 = ix * iy;
          const w01 = wx * iy;
          const w10 = ix * wy;
          const w11 = wx * wy;
          const p = so + y0 * row + x0 * 3;
          const r = p + row;
          dst[d] = (src[p]! * w00 + src[p + 3]! * w01 + src[r]! * w10 + src[r + 3]! * w11 + 32768) >>> 16;
          dst[d + 1] = (src[p + 1]! * w00 + src[p + 4]! * w01 + src[r + 1]! * w10 + src[r + 4]! * w11 + 32768) >>> 16;
          dst[d + 2] = (src[p + 2]! * w00 + src[p + 5]! * w01 + src[r + 2]! * w10 + src[r + 5]! * w11 + 32768) >>> 16;
        } else {
          for (let k = 0; k < 3; k++) dst[d + k] = borderSample(src, so, w, h, 3, k, x0, y0, wx, wy);
        }
      }
    }
  }
}

function warpAny(src: Uint8Array, so: number, dst: Uint8Array, d: number, h: number, w: number, c: number, bits: number): void {
  const { m00, m01, m02, m10, m11, m12 } = params;
  const one = 2 ** bits;
  const half = 2 ** (bits - 9);
  const g = bits - 8;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++, d += c) {
      const fx = Math.round((m00 * x + m01 * y + m02) * one) + half;
      const fy = Math.round((m10 * x + m11 * y + m12) * one) + half;
      for (let k = 0; k < c; k++) dst[d + k] = borderSample(src, so, w, h, c, k, fx >> bits, fy >> bits, (fx >> g) & 255, (fy >> g) & 255);
    }
  }
}

/** One channel of a bilinear sample at (x0 + wx/256, y0 + wy/256), reading 0 outside the image. */
function borderSample(src: Uint8Array, so: number, w: number, h: number, c: number, k: number, x0: number, y0: number, wx: number, wy: number): number {
  if (x0 < -1 || y0 < -1 || x0 >= w || y0 >= h) return 0;
  const left = x0 >= 0;
  const right = x0 + 1 < w;
  const top = y0 >= 0;
  const bottom = y0 + 1 < h;
  const row = w * c;
  const q = so + y0 * row + x0 * c + k;
  const p00 = top && left ? src[q]! : 0;
  const p01 = top && right ? src[q + c]! : 0;
  const p10 = bottom && left ? src[q + row]! : 0;
  const p11 = bottom && right ? src[q + row + c]! : 0;
  const ix = 256 - wx;
  const iy = 256 - wy;
  return (p00 * ix * iy + p01 * wx * iy + p10 * ix * wy + p11 * wx * wy + 32768) >>> 16;
}

// ---------------------------------------------------------------------------------------------
// Photometric and noise stages, in place on dst[d, d + n).

const lut = new Uint8Array(256);

function photometric(dst: Uint8Array, d: number, n: number, brightness: number, contrast: number): void {
  let mean = 0;
  if (contrast !== 1) {
    let sum = 0;
    for (let i = d; i < d + n; i++) sum += dst[i]!;
    mean = sum / n;
  }
  for (let v = 0; v < 256; v++) {
    const t = (v - mean) * contrast + mean + brightness + 0.5;
    lut[v] = t <= 0 ? 0 : t >= 255 ? 255 : t | 0;
  }
  for (let i = d; i < d + n; i++) dst[i] = lut[dst[i]!]!;
}

let normalTable: Float32Array | undefined;

/** Inverse standard normal CDF (Acklam's rational approximation, relative error < 1.2e-9). */
function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const cc = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const dd = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  const poly = (k: number[], x: number): number => k.reduce((acc, v) => acc * x + v, 0);
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(cc, q) / (poly(dd, q) * q + 1);
  }
  if (p > 1 - low) {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    return -poly(cc, q) / (poly(dd, q) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}

/**
 * Standard normal values at the 65,536 mid-quantiles (k + 0.5) / 65536: a 16-bit uniform
 * indexes one normal draw. Tails stop at +-4.3 sigma, which 8-bit pixels cannot tell apart.
 */
function normals(): Float32Array {
  if (normalTable) return normalTable;
  const table = new Float32Array(65536);
  for (let k = 0; k < 65536; k++) table[k] = normalQuantile((k + 0.5) / 65536);
  normalTable = table;
  return table;
}

/** Gaussian noise then salt-and-pepper, from an inline mulberry32 stream seeded by `seed`. */
function noise(dst: Uint8Array, d: number, pixels: number, c: number, std: number, saltPepper: number, seed: number): void {
  let state = seed | 0;
  const n = pixels * c;
  if (std > 0) {
    const table = normals();
    for (let i = d; i < d + n; i += 2) {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), state | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      t = (t ^ (t >>> 14)) >>> 0;
      // Two normals per 32-bit draw: one from each half.
      const a = dst[i]! + std * table[t >>> 16]! + 0.5;
      dst[i] = a <= 0 ? 0 : a >= 255 ? 255 : a | 0;
      if (i + 1 < d + n) {
        const b = dst[i + 1]! + std * table[t & 0xffff]! + 0.5;
        dst[i + 1] = b <= 0 ? 0 : b >= 255 ? 255 : b | 0;
      }
    }
  }
  if (saltPepper > 0) {
    // Geometric gaps between hit pixels: O(hits) draws instead of one per pixel.
    const logKeep = Math.log(1 - saltPepper);
    let p = -1;
    for (;;) {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), state | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      t = (t ^ (t >>> 14)) >>> 0;
      // u in (0, 1]; the lowest bit picks salt or pepper, the rest the gap.
      const u = ((t >>> 1) + 1) / 0x80000000;
      p += 1 + Math.floor(Math.log(u) / logKeep);
      if (p >= pixels) break;
      const v = t & 1 ? 255 : 0;
      const at = d + p * c;
      for (let k = 0; k < c; k++) dst[at + k] = v;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Public entry points.

let scratch = new Uint8Array(0);

function overlaps(a: Uint8Array, ao: number, b: Uint8Array, bo: number, n: number): boolean {
  if (a.buffer !== b.buffer) return false;
  const aStart = a.byteOffset + ao;
  const bStart = b.byteOffset + bo;
  return aStart < bStart + n && bStart < aStart + n;
}

/**
 * Augments the image at `src[srcOffset ..]` into `out[outOffset ..]` (the same range for in
 * place), drawing 9 values from `rng`. The building block of the other entry points; it checks
 * only that both ranges fit (the policy is the caller's to validate, once, with validatePolicy).
 */
export function augmentImageAt(
  src: Uint8Array,
  srcOffset: number,
  out: Uint8Array,
  outOffset: number,
  shape: ImageShape,
  policy: AugmentationPolicy,
  rng: Rng,
): void {
  const [h, w, c] = shape;
  const n = h * w * c;
  if (srcOffset < 0 || srcOffset + n > src.length) throw new RangeError(`augment: source image at ${srcOffset} needs ${n} bytes, buffer has ${src.length}`);
  if (outOffset < 0 || outOffset + n > out.length) throw new RangeError(`augment: output image at ${outOffset} needs ${n} bytes, buffer has ${out.length}`);
  sampleParams(policy, rng, h, w);
  const inPlace = overlaps(src, srcOffset, out, outOffset, n);
  if (params.geometry === GEOMETRY_IDENTITY) {
    if (!inPlace) out.set(src.subarray(srcOffset, srcOffset + n), outOffset);
    else if (src.byteOffset + srcOffset !== out.byteOffset + outOffset) out.set(src.slice(srcOffset, srcOffset + n), outOffset);
  } else {
    const sameRange = inPlace && src.byteOffset + srcOffset === out.byteOffset + outOffset;
    if (sameRange && params.geometry === GEOMETRY_FLIPS) {
      flipInPlace(out, outOffset, h, w, c, params.hflip, params.vflip);
      finishImage(out, outOffset, h, w, c, policy);
      return;
    }
    const to = inPlace ? (scratch.length === n ? scratch : (scratch = new Uint8Array(n))) : out;
    const at = inPlace ? 0 : outOffset;
    if (params.geometry === GEOMETRY_FLIPS) flipInto(src, srcOffset, to, at, h, w, c, params.hflip, params.vflip);
    else warpInto(src, srcOffset, to, at, h, w, c);
    if (inPlace) out.set(to, outOffset);
  }
  finishImage(out, outOffset, h, w, c, policy);
}

/** The photometric and noise stages, in place, with the parameters sampled for this image. */
function finishImage(out: Uint8Array, outOffset: number, h: number, w: number, c: number, policy: AugmentationPolicy): void {
  if (params.brightness !== 0 || params.contrast !== 1) photometric(out, outOffset, h * w * c, params.brightness, params.contrast);
  if (policy.gaussianNoiseStd > 0 || policy.saltPepper > 0) {
    noise(out, outOffset, h * w, c, policy.gaussianNoiseStd, policy.saltPepper, params.noiseSeed);
  }
}

/**
 * Augments one HWC uint8 image into `out` (a new array when absent; `src` itself for in place),
 * drawing from `rng`.
 */
export function augmentImage(src: Uint8Array, shape: ImageShape, policy: AugmentationPolicy, rng: Rng, out?: Uint8Array): Uint8Array {
  const n = checkShape(shape);
  if (src.length !== n) throw new RangeError(`augment: image of shape [${shape.join(', ')}] needs ${n} bytes, got ${src.length}`);
  const target = out ?? new Uint8Array(n);
  if (target.length !== n) throw new RangeError(`augment: output must hold ${n} bytes, got ${target.length}`);
  augmentImageAt(src, 0, target, 0, shape, policy, rng);
  return target;
}

/**
 * Augments the first `count` images of a packed NHWC batch into `out` (in place when absent).
 * Image i uses a generator seeded by `seedFor(i)`, so its result depends only on its own seed,
 * not on the batch it travels in.
 */
export function augmentBatch(
  images: Uint8Array,
  count: number,
  shape: ImageShape,
  policy: AugmentationPolicy,
  seedFor: (i: number) => number,
  out?: Uint8Array,
): Uint8Array {
  const n = checkShape(shape);
  if (!Number.isInteger(count) || count < 0 || count * n > images.length) {
    throw new RangeError(`augment: count must be an integer in [0, ${Math.floor(images.length / n)}] for ${images.length} bytes of [${shape.join(', ')}] images, got ${count}`);
  }
  validatePolicy(policy);
  const target = out ?? images;
  if (target.length < count * n) throw new RangeError(`augment: output must hold ${count * n} bytes, got ${target.length}`);
  for (let i = 0; i < count; i++) augmentImageAt(images, i * n, target, i * n, shape, policy, createRng(seedFor(i)));
  return target;
}

/**
 * Offline expansion of `count` images whose first has dataset index `firstIndex`: `factor`
 * copies per image, image-major (image i's copies are out[i * factor .. i * factor + factor)).
 * Copy 0 is the original, untouched; copy k >= 1 is augmented with `offlineSeed(seed, firstIndex
 * + i, k)`. Expanding a dataset chunk by chunk gives the same bytes as expanding it at once, so
 * callers can hold one chunk at a time.
 */
export function expandOffline(
  images: Uint8Array,
  labels: Int32Array,
  count: number,
  shape: ImageShape,
  policy: AugmentationPolicy,
  factor: number,
  seed: number,
  firstIndex: number,
): { images: Uint8Array; labels: Int32Array; count: number } {
  const n = checkShape(shape);
  if (!Number.isInteger(factor) || factor < 1) throw new RangeError(`augment: factor must be an integer >= 1, got ${factor}`);
  if (!Number.isInteger(count) || count < 0 || count * n > images.length) {
    throw new RangeError(`augment: count must be an integer in [0, ${Math.floor(images.length / n)}] for ${images.length} bytes of [${shape.join(', ')}] images, got ${count}`);
  }
  if (labels.length < count) throw new RangeError(`augment: ${count} images need ${count} labels, got ${labels.length}`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`augment: seed must be a safe integer, got ${seed}`);
  if (!Number.isInteger(firstIndex) || firstIndex < 0) throw new RangeError(`augment: firstIndex must be an integer >= 0, got ${firstIndex}`);
  validatePolicy(policy);
  const outImages = new Uint8Array(count * factor * n);
  const outLabels = new Int32Array(count * factor);
  for (let i = 0; i < count; i++) {
    const label = labels[i]!;
    const base = i * factor;
    outImages.set(images.subarray(i * n, (i + 1) * n), base * n);
    outLabels[base] = label;
    for (let k = 1; k < factor; k++) {
      augmentImageAt(images, i * n, outImages, (base + k) * n, shape, policy, createRng(offlineSeed(seed, firstIndex + i, k)));
      outLabels[base + k] = label;
    }
  }
  return { images: outImages, labels: outLabels, count: count * factor };
}
