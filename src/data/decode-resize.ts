/**
 * A triangle-filter (bilinear) resize of interleaved 8-bit pixels, for `decodeImage`'s JS paths
 * (PNGs shrunk in JS, JPEGs decoded by TurboJPEG). It is Pillow's `resize(..., BILINEAR)` algorithm: the triangle's support is
 * widened by the shrink factor (so shrinking is anti-aliased, each output pixel averaging every
 * source pixel under it), weights in 22-bit fixed point, a horizontal pass rounded to 8 bits then
 * a vertical pass over only the rows it needs. Measured against Pillow 9.4 on the scikit-image
 * photos to 224x224: identical samples (tests/unit/data/decode-resize.test.ts checks a stored
 * reference). Against sharp's 'linear' reducer (the kernel the sharp path shrinks with) samples
 * differ by a few levels at most: libvips shrinks by a box filter first and rounds differently.
 */
import { prepareImageSimd, resizeSimd } from './image-simd.js';

const PRECISION_BITS = 22;
const HALF = 1 << (PRECISION_BITS - 1);
const ONE = 1 << PRECISION_BITS;

/**
 * Per output position along one axis: the first source index and the fixed-point weights. Every
 * position has the same number of taps (`taps`, the largest any position needs): a position near
 * the end whose window would run past the source is shifted back and its weights moved right,
 * the extra taps weighing 0. The sums are the same; the loops run a fixed count.
 */
interface AxisTaps {
  /** Source index of each output position's first tap. */
  first: Int32Array;
  taps: number;
  /** `taps` weights per output position. */
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
  const lows = new Int32Array(outSize);
  const counts = new Int32Array(outSize);
  const exact = new Int32Array(outSize * stride);
  const k = new Float64Array(stride);
  const ss = 1 / filterScale;
  let taps = 1;
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
      exact[o * stride + t] = Math.trunc(w < 0 ? -0.5 + w * ONE : 0.5 + w * ONE);
    }
    lows[o] = lo;
    counts[o] = n;
    if (n > taps) taps = n;
  }
  taps = Math.min(taps, inSize);
  const first = new Int32Array(outSize);
  const weights = new Int32Array(outSize * taps);
  for (let o = 0; o < outSize; o++) {
    const lo = lows[o] as number;
    const start = Math.min(lo, inSize - taps);
    first[o] = start;
    const n = counts[o] as number;
    for (let t = 0; t < n; t++) weights[o * taps + (lo - start) + t] = exact[o * stride + t] as number;
  }
  const result = { first, taps, weights };
  if (tapCache.size > 64) tapCache.clear();
  tapCache.set(cacheKey, result);
  return result;
}

const clip8 = (v: number): number => (v <= 0 ? 0 : v >= 255 << PRECISION_BITS ? 255 : v >> PRECISION_BITS);

/** Scratch rows for the horizontal pass, grown as needed. */
let middleScratch = new Uint8Array(0);

/**
 * Resizes `src` (`width` x `height`, `channels` interleaved 8-bit samples) to `outWidth` x
 * `outHeight` into `out` at `offset`, enlarging or shrinking along either axis. The passes run as
 * SIMD code (`image-simd.ts`, identical samples, 3-6x faster) once this thread has built it, and
 * in JS before that or with `simd` false.
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
  simd = true,
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
  const rowEnd = (v.first[outHeight - 1] as number) + v.taps;
  if (simd && resizeSimd(src, width, channels, rowFirst, rowEnd, h, v, outWidth, outHeight, out, offset)) return out;
  // Until this thread's SIMD kernels are built (the first call starts that), the passes run in JS.
  if (simd) void prepareImageSimd();
  const midRow = outWidth * channels;
  const midSize = (rowEnd - rowFirst) * midRow;
  if (middleScratch.length < midSize) middleScratch = new Uint8Array(midSize);
  const mid = middleScratch;
  if (channels === 1) horizontalGrey(src, width, rowFirst, rowEnd, h, outWidth, mid);
  else horizontal(src, width, channels, rowFirst, rowEnd, h, outWidth, mid);
  vertical(mid, midRow, rowFirst, v, outHeight, out, offset);
  return out;
}

/** The vertical pass: each output sample sums its column's taps in `mid` directly. */
function vertical(mid: Uint8Array, midRow: number, rowFirst: number, v: AxisTaps, outHeight: number, out: Uint8Array, offset: number): void {
  const { first, taps, weights } = v;
  for (let y = 0; y < outHeight; y++) {
    const r0 = ((first[y] as number) - rowFirst) * midRow;
    const wb = y * taps;
    const o = offset + y * midRow;
    if (taps <= 3) {
      const w0 = weights[wb] as number;
      const w1 = taps > 1 ? (weights[wb + 1] as number) : 0;
      const w2 = taps > 2 ? (weights[wb + 2] as number) : 0;
      const r1 = taps > 1 ? r0 + midRow : r0;
      const r2 = taps > 2 ? r0 + 2 * midRow : r0;
      for (let i = 0; i < midRow; i++) {
        out[o + i] = clip8(HALF + w0 * (mid[r0 + i] as number) + w1 * (mid[r1 + i] as number) + w2 * (mid[r2 + i] as number));
      }
      continue;
    }
    if (taps <= 6) {
      const w0 = weights[wb] as number;
      const w1 = taps > 1 ? (weights[wb + 1] as number) : 0;
      const w2 = taps > 2 ? (weights[wb + 2] as number) : 0;
      const w3 = taps > 3 ? (weights[wb + 3] as number) : 0;
      const w4 = taps > 4 ? (weights[wb + 4] as number) : 0;
      const w5 = taps > 5 ? (weights[wb + 5] as number) : 0;
      // Rows past the last tap read row 0 again with weight 0, so every row index stays in range.
      const r1 = taps > 1 ? r0 + midRow : r0;
      const r2 = taps > 2 ? r0 + 2 * midRow : r0;
      const r3 = taps > 3 ? r0 + 3 * midRow : r0;
      const r4 = taps > 4 ? r0 + 4 * midRow : r0;
      const r5 = taps > 5 ? r0 + 5 * midRow : r0;
      for (let i = 0; i < midRow; i++) {
        const sum = HALF + w0 * (mid[r0 + i] as number) + w1 * (mid[r1 + i] as number) + w2 * (mid[r2 + i] as number) +
          w3 * (mid[r3 + i] as number) + w4 * (mid[r4 + i] as number) + w5 * (mid[r5 + i] as number);
        out[o + i] = clip8(sum);
      }
      continue;
    }
    for (let i = 0; i < midRow; i++) {
      let sum = HALF;
      for (let t = 0, r = r0 + i; t < taps; t++, r += midRow) sum += (weights[wb + t] as number) * (mid[r] as number);
      out[o + i] = clip8(sum);
    }
  }
}

/** The horizontal pass over grey source rows [rowFirst, rowEnd), rounded to 8 bits, into `mid`. */
function horizontalGrey(src: Uint8Array, width: number, rowFirst: number, rowEnd: number, h: AxisTaps, outWidth: number, mid: Uint8Array): void {
  const { first, taps, weights } = h;
  for (let y = rowFirst; y < rowEnd; y++) {
    const s = y * width;
    const m = (y - rowFirst) * outWidth;
    if (taps === 5 && y + 1 < rowEnd) {
      // Two rows at once: each tap's position and weight is loaded once for both.
      const m2 = m + outWidth;
      for (let x = 0, wb = 0; x < outWidth; x++, wb += 5) {
        const at = s + (first[x] as number);
        const at2 = at + width;
        const w0 = weights[wb] as number;
        const w1 = weights[wb + 1] as number;
        const w2 = weights[wb + 2] as number;
        const w3 = weights[wb + 3] as number;
        const w4 = weights[wb + 4] as number;
        mid[m + x] = clip8(HALF + w0 * (src[at] as number) + w1 * (src[at + 1] as number) + w2 * (src[at + 2] as number) +
          w3 * (src[at + 3] as number) + w4 * (src[at + 4] as number));
        mid[m2 + x] = clip8(HALF + w0 * (src[at2] as number) + w1 * (src[at2 + 1] as number) + w2 * (src[at2 + 2] as number) +
          w3 * (src[at2 + 3] as number) + w4 * (src[at2 + 4] as number));
      }
      y++;
      continue;
    }
    if (taps === 5) {
      for (let x = 0, wb = 0; x < outWidth; x++, wb += 5) {
        const at = s + (first[x] as number);
        const sum = HALF + (weights[wb] as number) * (src[at] as number) + (weights[wb + 1] as number) * (src[at + 1] as number) +
          (weights[wb + 2] as number) * (src[at + 2] as number) + (weights[wb + 3] as number) * (src[at + 3] as number) +
          (weights[wb + 4] as number) * (src[at + 4] as number);
        mid[m + x] = clip8(sum);
      }
      continue;
    }
    for (let x = 0, wb = 0; x < outWidth; x++, wb += taps) {
      const at = s + (first[x] as number);
      let sum = HALF;
      for (let t = 0; t < taps; t++) sum += (weights[wb + t] as number) * (src[at + t] as number);
      mid[m + x] = clip8(sum);
    }
  }
}

/** The horizontal pass over source rows [rowFirst, rowEnd), rounded to 8 bits, into `mid`. */
function horizontal(src: Uint8Array, width: number, channels: number, rowFirst: number, rowEnd: number, h: AxisTaps, outWidth: number, mid: Uint8Array): void {
  const { first, taps, weights } = h;
  const srcRow = width * channels;
  const midRow = outWidth * channels;
  if (channels === 3) {
    for (let y = rowFirst; y < rowEnd; y++) {
      const s = y * srcRow;
      const m = (y - rowFirst) * midRow;
      for (let x = 0, wb = 0; x < outWidth; x++, wb += taps) {
        let at = s + (first[x] as number) * 3;
        let r = HALF;
        let g = HALF;
        let b = HALF;
        for (let t = 0; t < taps; t++, at += 3) {
          const w = weights[wb + t] as number;
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
    for (let x = 0, wb = 0; x < outWidth; x++, wb += taps) {
      for (let c = 0; c < channels; c++) {
        let at = s + (first[x] as number) * channels + c;
        let sum = HALF;
        for (let t = 0; t < taps; t++, at += channels) sum += (weights[wb + t] as number) * (src[at] as number);
        mid[m + x * channels + c] = clip8(sum);
      }
    }
  }
}
