/**
 * 64-bit DCT perceptual hash (pHash). The image is turned grey, resampled to 32x32 (area
 * averaging when shrinking, bilinear when enlarging), transformed with an orthonormal 2-D DCT-II,
 * and the 8x8 lowest frequencies are compared with their median.
 *
 * Layout: bit `63 - (8u + v)` of the hash is coefficient (u, v) (u the vertical frequency), so the
 * DC term is the most significant bit. The DC term says only how bright the image is, so it is left
 * out of the median and its bit is always 0; the other 63 bits are 1 where their coefficient lies
 * above the median of the 63 AC coefficients. Adding a constant to every pixel changes only the DC
 * term and scaling the contrast scales every AC term, so neither moves a bit (except where pixels
 * clip at 0 or 255); re-encoding and small shifts move only coefficients near the median.
 *
 * The median of 63 distinct values leaves exactly 31 bits set, so two hashes of non-flat images
 * differ in an even number of bits: a near-duplicate threshold of 2k + 1 acts like 2k.
 *
 * A flat image has only (numerically) zero AC coefficients; a bit is set only when its coefficient
 * exceeds the median by more than a tolerance of 1e-9 of the image's energy, so every flat image
 * hashes to 0 whatever floating-point noise the transform leaves.
 */
import { checkImage, toGrey } from './grey.js';

/** Side of the square the image is resampled to before the DCT. */
const SIZE = 32;
/** Side of the low-frequency block the hash keeps. */
const KEEP = 8;
const MASK_64 = (1n << 64n) - 1n;

/** Orthonormal DCT-II basis for the KEEP lowest frequencies: COS[u * SIZE + x]. */
const COS = (() => {
  const table = new Float64Array(KEEP * SIZE);
  for (let u = 0; u < KEEP; u++) {
    const scale = u === 0 ? Math.sqrt(1 / SIZE) : Math.sqrt(2 / SIZE);
    for (let x = 0; x < SIZE; x++) table[u * SIZE + x] = scale * Math.cos((Math.PI * (2 * x + 1) * u) / (2 * SIZE));
  }
  return table;
})();

/** For each of `SIZE` outputs, the first source index and the weights of consecutive sources. */
interface AxisWeights {
  start: Int32Array;
  weights: Float64Array[];
}

const axisCache = new Map<number, AxisWeights>();

/**
 * Resampling weights along one axis of `source` samples to SIZE: box-filter (area) weights when
 * shrinking, so every source pixel counts; bilinear with pixel centres aligned when enlarging.
 */
function axisWeights(source: number): AxisWeights {
  const cached = axisCache.get(source);
  if (cached) return cached;
  const start = new Int32Array(SIZE);
  const weights: Float64Array[] = [];
  const ratio = source / SIZE;
  for (let o = 0; o < SIZE; o++) {
    if (source >= SIZE) {
      const lo = o * ratio;
      const hi = (o + 1) * ratio;
      const first = Math.floor(lo);
      const last = Math.min(source - 1, Math.ceil(hi) - 1);
      const w = new Float64Array(last - first + 1);
      for (let i = first; i <= last; i++) w[i - first] = (Math.min(hi, i + 1) - Math.max(lo, i)) / ratio;
      start[o] = first;
      weights.push(w);
    } else {
      const x = Math.min(source - 1, Math.max(0, (o + 0.5) * ratio - 0.5));
      const first = Math.min(Math.floor(x), Math.max(0, source - 2));
      const frac = x - first;
      start[o] = first;
      weights.push(source === 1 ? Float64Array.of(1) : Float64Array.of(1 - frac, frac));
    }
  }
  const result = { start, weights };
  // Inputs come in a handful of sizes; keep the cache from growing without bound on odd callers.
  if (axisCache.size < 64) axisCache.set(source, result);
  return result;
}

/** Grey image resampled to SIZE x SIZE, row-major. */
function resample(grey: Uint8Array, height: number, width: number): Float64Array {
  const ax = axisWeights(width);
  const ay = axisWeights(height);
  const rows = new Float64Array(height * SIZE);
  for (let y = 0; y < height; y++) {
    const base = y * width;
    for (let o = 0; o < SIZE; o++) {
      const first = base + (ax.start[o] as number);
      const w = ax.weights[o] as Float64Array;
      let sum = 0;
      for (let k = 0; k < w.length; k++) sum += (w[k] as number) * (grey[first + k] as number);
      rows[y * SIZE + o] = sum;
    }
  }
  const out = new Float64Array(SIZE * SIZE);
  for (let o = 0; o < SIZE; o++) {
    const first = ay.start[o] as number;
    const w = ay.weights[o] as Float64Array;
    for (let x = 0; x < SIZE; x++) {
      let sum = 0;
      for (let k = 0; k < w.length; k++) sum += (w[k] as number) * (rows[(first + k) * SIZE + x] as number);
      out[o * SIZE + x] = sum;
    }
  }
  return out;
}

/** The KEEP x KEEP lowest-frequency DCT-II coefficients of a SIZE x SIZE image, row-major (u, v). */
function lowDct(image: Float64Array): Float64Array {
  // Along x first: partial[y * KEEP + v].
  const partial = new Float64Array(SIZE * KEEP);
  for (let y = 0; y < SIZE; y++) {
    for (let v = 0; v < KEEP; v++) {
      let sum = 0;
      for (let x = 0; x < SIZE; x++) sum += (COS[v * SIZE + x] as number) * (image[y * SIZE + x] as number);
      partial[y * KEEP + v] = sum;
    }
  }
  const out = new Float64Array(KEEP * KEEP);
  for (let u = 0; u < KEEP; u++) {
    for (let v = 0; v < KEEP; v++) {
      let sum = 0;
      for (let y = 0; y < SIZE; y++) sum += (COS[u * SIZE + y] as number) * (partial[y * KEEP + v] as number);
      out[u * KEEP + v] = sum;
    }
  }
  return out;
}

/**
 * The 64-bit perceptual hash of an HWC uint8 image (`channels` 1 or 3) as an unsigned bigint.
 * Similar images give hashes a small Hamming distance apart (see the module comment).
 */
export function perceptualHash(pixels: Uint8Array, height: number, width: number, channels: number): bigint {
  checkImage('perceptualHash', pixels, height, width, channels);
  const grey = toGrey(pixels, height, width, channels);
  const coefficients = lowDct(resample(grey, height, width));
  const ac = Array.from(coefficients.subarray(1)).sort((a, b) => a - b);
  // 63 values: the median is the 32nd.
  const median = ac[(ac.length - 1) >> 1] as number;
  let energy = 0;
  for (const c of coefficients) energy += c * c;
  const tolerance = 1e-9 * Math.sqrt(energy);
  let hi = 0;
  let lo = 0;
  for (let k = 1; k < KEEP * KEEP; k++) {
    if ((coefficients[k] as number) - median <= tolerance) continue;
    // Bit 63 - k of the hash: k < 32 lands in the high word at bit 31 - k.
    if (k < 32) hi |= 1 << (31 - k);
    else lo |= 1 << (63 - k);
  }
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function checkHash(fn: string, name: string, h: bigint): void {
  if (typeof h !== 'bigint' || h < 0n || h > MASK_64) {
    throw new RangeError(`${fn}: ${name} must be a bigint in [0, 2^64), got ${String(h)}`);
  }
}

/** Set bits of a 32-bit integer. */
export function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Number of bits in which two 64-bit hashes differ (0..64). */
export function hammingDistance(a: bigint, b: bigint): number {
  checkHash('hammingDistance', 'a', a);
  checkHash('hammingDistance', 'b', b);
  const x = a ^ b;
  return popcount32(Number(x >> 32n)) + popcount32(Number(x & 0xffffffffn));
}

/** The hash as 16 lower-case hex digits, zero-padded. */
export function hashToHex(h: bigint): string {
  checkHash('hashToHex', 'h', h);
  return h.toString(16).padStart(16, '0');
}

/** Parses 16 hex digits (either case) written by `hashToHex`. */
export function hexToHash(s: string): bigint {
  if (typeof s !== 'string' || !/^[0-9a-fA-F]{16}$/.test(s)) {
    throw new RangeError(`hexToHash: s must be 16 hex digits, got ${JSON.stringify(s)}`);
  }
  return BigInt(`0x${s}`);
}
