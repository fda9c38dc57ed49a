/**
 * A triangle-filter (bilinear) resize of interleaved 8-bit pixels in JS, for the large-PNG path
 * of `decodeImage`. It is Pillow's `resize(..., BILINEAR)` algorithm: the triangle's support is
 * widened by the shrink factor (so shrinking is anti-aliased, each output pixel averaging every
 * source pixel under it), weights in 22-bit fixed point, a horizontal pass rounded to 8 bits then
 * a vertical pass over only the rows it needs. Measured against Pillow 9.4 on the scikit-image
 * photos to 224x224: identical samples (tests/unit/data/decode-resize.test.ts checks a stored
 * reference). Against sharp's 'linear' reducer (the kernel the sharp path shrinks with) samples
 * differ by a few levels at most: libvips shrinks by a box filter first and rounds differently.
 */

const PRECISION_BITS = 22;
const HALF = 1 << (PRECISION_BITS - 1);
const ONE = 1 << PRECISION_BITS;

/** Per output position along one axis: the first source index and the fixed-point weights. */
interface AxisTaps {
  /** Source index of each output position's first tap. */
  first: Int32Array;
  /** Taps per output position (`stride` slots each in `weights`, the unused ones 0). */
  count: Int32Array;
  stride: number;
  weights: Int32Array;
}

const tapCache = new Map<string, AxisTaps>();

/** Triangle-filter taps mapping `inSize` samples onto `outSize`, as Pillow's `precompute_coeffs`. */
function axisTaps(inSize: number, outSize: number): AxisTaps {
  const cacheKey = `${inSize}:${outSize}`;
  const cached = tapCache.get(cacheKey);
  if (cached) return cached;
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the triangle's radius is 1
  const stride = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * stride);
  const k = new Float64Array(stride);
  const ss = 1 / filterScale;
  for (let o = 0; o < outSize; o++) {
    const centre = (o + 0.5) * scale;
    let lo = Math.trunc(centre - support + 0.5);
    if (lo < 0) lo = 0;
    let hi = Math.trunc(centre + support + 0.5);
    if (hi > inSize) hi = inSize;
    const n = hi - lo;
    let sum = 0;
    for (let t = 0; t < n; t++) {
      const x = Math.abs((t + lo - centre + 0.5) * ss);
      const w = x < 1 ? 1 - x : 0;
      k[t] = w;
      sum += w;
    }
    for (let t = 0; t < n; t++) {
      const w = sum === 0 ? 0 : (k[t] as number) / sum;
      weights[o * stride + t] = Math.trunc(w < 0 ? -0.5 + w * ONE : 0.5 + w * ONE);
    }
    first[o] = lo;
    count[o] = n;
  }
  const taps = { first, count, stride, weights };
  if (tapCache.size > 64) tapCache.clear();
  tapCache.set(cacheKey, taps);
  return taps;
}

const clip8 = (v: number): number => (v <= 0 ? 0 : v >= 255 << PRECISION_BITS ? 255 : v >> PRECISION_BITS);

/** Scratch rows for the horizontal pass, grown as needed. */
let middleScratch = new Uint8Array(0);
let accumulator = new Int32Array(0);

/**
 * Resizes `src` (`width` x `height`, `channels` interleaved 8-bit samples) to `outWidth` x
 * `outHeight` into `out` at `offset`, enlarging or shrinking along either axis.
 */
export function resizeBilinear(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  out: Uint8Array,
  offset = 0,
): Uint8Array {
  if (src.length < width * height * channels) {
    throw new RangeError(`resizeBilinear: ${width}x${height}x${channels} needs ${width * height * channels} samples, got ${src.length}`);
  }
  if (out.length < offset + outWidth * outHeight * channels) {
    throw new RangeError(`resizeBilinear: output needs ${offset + outWidth * outHeight * channels} bytes, has ${out.length}`);
  }
  const h = axisTaps(width, outWidth);
  const v = axisTaps(height, outHeight);
  // Source rows the vertical pass reads: only those are filtered horizontally.
  const rowFirst = v.first[0] as number;
  const lastOut = outHeight - 1;
  const rowEnd = (v.first[lastOut] as number) + (v.count[lastOut] as number);
  const midRow = outWidth * channels;
  const midSize = (rowEnd - rowFirst) * midRow;
  if (middleScratch.length < midSize) middleScratch = new Uint8Array(midSize);
  const mid = middleScratch;
  horizontal(src, width, channels, rowFirst, rowEnd, h, outWidth, mid);
  if (accumulator.length < midRow) accumulator = new Int32Array(midRow);
  const acc = accumulator;
  for (let y = 0; y < outHeight; y++) {
    const lo = (v.first[y] as number) - rowFirst;
    const n = v.count[y] as number;
    const base = y * v.stride;
    acc.fill(HALF, 0, midRow);
    for (let t = 0; t < n; t++) {
      const w = v.weights[base + t] as number;
      if (w === 0) continue;
      const row = (lo + t) * midRow;
      for (let i = 0; i < midRow; i++) acc[i] = (acc[i] as number) + w * (mid[row + i] as number);
    }
    const o = offset + y * midRow;
    for (let i = 0; i < midRow; i++) out[o + i] = clip8(acc[i] as number);
  }
  return out;
}

/** The horizontal pass over source rows [rowFirst, rowEnd), rounded to 8 bits, into `mid`. */
function horizontal(src: Uint8Array, width: number, channels: number, rowFirst: number, rowEnd: number, h: AxisTaps, outWidth: number, mid: Uint8Array): void {
  const { first, count, stride, weights } = h;
  const srcRow = width * channels;
  const midRow = outWidth * channels;
  if (channels === 1) {
    for (let y = rowFirst; y < rowEnd; y++) {
      const s = y * srcRow;
      const m = (y - rowFirst) * midRow;
      for (let x = 0; x < outWidth; x++) {
        const at = s + (first[x] as number);
        const n = count[x] as number;
        const base = x * stride;
        let sum = HALF;
        for (let t = 0; t < n; t++) sum += (weights[base + t] as number) * (src[at + t] as number);
        mid[m + x] = clip8(sum);
      }
    }
    return;
  }
  if (channels === 3) {
    for (let y = rowFirst; y < rowEnd; y++) {
      const s = y * srcRow;
      const m = (y - rowFirst) * midRow;
      for (let x = 0; x < outWidth; x++) {
        let at = s + (first[x] as number) * 3;
        const n = count[x] as number;
        const base = x * stride;
        let r = HALF;
        let g = HALF;
        let b = HALF;
        for (let t = 0; t < n; t++, at += 3) {
          const w = weights[base + t] as number;
          r += w * (src[at] as number);
          g += w * (src[at + 1] as number);
          b += w * (src[at + 2] as number);
        }
        const o = m + x * 3;
        mid[o] = clip8(r);
        mid[o + 1] = clip8(g);
        mid[o + 2] = clip8(b);
      }
    }
    return;
  }
  for (let y = rowFirst; y < rowEnd; y++) {
    const s = y * srcRow;
    const m = (y - rowFirst) * midRow;
    for (let x = 0; x < outWidth; x++) {
      const n = count[x] as number;
      const base = x * stride;
      for (let c = 0; c < channels; c++) {
        let at = s + (first[x] as number) * channels + c;
        let sum = HALF;
        for (let t = 0; t < n; t++, at += channels) sum += (weights[base + t] as number) * (src[at] as number);
        mid[m + x * channels + c] = clip8(sum);
      }
    }
  }
}
