/**
 * The fast PNG path. For small images (MNIST is 28x28) sharp's per-image setup costs far more
 * than the pixels, so small PNGs are decoded here: inflated in JS when the image data is small
 * (`inflateSmall`, below), else by node:zlib's native `inflateSync` (both verify the zlib
 * stream's Adler-32), then unfiltered in JS, after `inspectPng` has checked every chunk CRC. It handles every non-interlaced PNG: colour types 0/2/3/4/6, bit depths
 * 1/2/4/8/16, all five filter types, and tRNS (palette alpha and grey/RGB colour keys), giving
 * the same samples libvips' PNG loader gives.
 *
 * Per thread on 10,000 MNIST PNGs (bench/data-prep.ts, three runs on a shared 2-core machine,
 * decode only, CRCs checked): this decoder 71,000-100,000 img/s, fast-png 8 (pure-JS inflate)
 * 22,000-39,000 img/s (2.3-3.2x slower in the same run), sharp 1,600-2,600 img/s. With
 * `reuse` (the batch decoders' mode: scratch buffers, no per-image allocations) and the JS inflate,
 * decode + resize to 32x32 grey into the caller's buffer takes ~15 us per image once V8 has
 * optimised the code (~23 us before).
 *
 * Resizing: the phase-1 target for MNIST is 28x28 -> 32x32, so the fast path also enlarges
 * (`upsampleLikeSharp`, which reproduces sharp's output exactly) instead of handing every
 * resized image to sharp. Measured per thread, decode + resize to 32x32 grey: fast path
 * 35,000-39,000 img/s, sharp 1,200-1,400 img/s (Pillow, per the issue: ~11,900 img/s).
 * Shrinking is left to sharp: its anti-aliasing reducer is not reproduced here.
 */
import { inflateSync } from 'node:zlib';
import type { DecodeOptions } from './decode.js';
import { prepareImageSimd, unfilterSimd } from './image-simd.js';
import { pngChannels, type PngInfo } from './png-info.js';

/**
 * Above this many source pixels sharp is used even where the fast path could decode: sharp
 * decodes in native code on its own threads, so its fixed per-image cost stops mattering.
 * Measured with `decodeImage` on RGB PNGs of a photo, same size out, 2-core machine: the fast
 * path was 9.5x sharp at 64x64, 3.6x at 128x128, 2.4x at 256x256, and level at 384x384.
 */
export const FAST_PNG_MAX_PIXELS = 256 * 256;

/** Damaged image data found while decoding (bad filter type, short or bad zlib stream). */
export class PngDataError extends Error {
  constructor(
    readonly reason: 'truncated' | 'corrupt',
    message: string,
  ) {
    super(message);
    this.name = 'PngDataError';
  }
}

/** The PNG is valid but this path does not reproduce what sharp does with it; use sharp. */
export class FastPathDeclined extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FastPathDeclined';
  }
}

/**
 * Whether the fast path gives what sharp would for this PNG and target: no colour profile or
 * EXIF chunk (sharp would colour-manage or rotate), not interlaced, small, and a target that is
 * the source size or an enlargement the JS upsampler reproduces exactly (`upsampleLikeSharp`):
 * 'fill', or any fit when the aspect ratio is unchanged. Shrinking stays with sharp, whose
 * anti-aliasing reducer is not reproduced here.
 */
export function fastPngEligible(info: PngInfo, options: Pick<DecodeOptions, 'width' | 'height' | 'fit'>): boolean {
  if (info.interlace !== 0) return false;
  if (info.width * info.height > FAST_PNG_MAX_PIXELS) return false;
  if (info.chunks.has('iCCP') || info.chunks.has('eXIf') || info.chunks.has('cICP')) return false;
  const { width, height } = options;
  if (width === info.width && height === info.height) return true;
  if (width < info.width || height < info.height) return false;
  return (options.fit ?? 'fill') === 'fill' || width * info.height === height * info.width;
}

/**
 * Most source samples (width x height x channels, palettes counted as RGB) of a PNG that
 * `decodeImage` decodes and shrinks in JS (`pngShrinkEligible`); larger ones go to sharp, which
 * streams them where this path holds the whole image (and the SIMD module keeps a copy of it).
 * With unfiltering and resizing in the SIMD module (`image-simd.ts`) this path costs less than
 * sharp at every size measured: to 224x224 RGB, one thread, JS against sharp, 512x512 RGB
 * 2.5 vs 3.6-5.4 ms, 741x500 RGB 6.8 vs 8.6-9.5, 550x660 grey 3.5 vs 6.5-7.9, 400x300 grey 1.1 vs 3.4.
 */
export const SHRINK_PNG_MAX_SAMPLES = 4 * 1024 * 1024;

/** Up to this many source pixels the shrink path decodes into the thread's scratch buffers. */
export const SHRINK_PNG_REUSE_PIXELS = 1024 * 1024;

/**
 * Whether a PNG that the target shrinks (along either axis) is decoded and resized in JS instead
 * of by sharp: not interlaced, no EXIF chunk (orientation) or cICP chunk, no colour profile the
 * caller cannot handle (`profileHandled`: sRGB itself, which sharp leaves unapplied too, or one
 * the decoder converts in JS after the resize), small enough (`SHRINK_PNG_MAX_SAMPLES`), and
 * 'fill' or a target of the same aspect ratio (no crop or letterbox). sharp's fixed cost per
 * image (~2-4 ms of CPU here, whatever the size) is then avoided: node:zlib inflates, the SIMD
 * module unfilters, `resizeBilinear` shrinks with the triangle filter sharp's path would use
 * ('linear').
 */
export function pngShrinkEligible(info: PngInfo, options: Pick<DecodeOptions, 'width' | 'height' | 'fit'>, profileHandled: boolean): boolean {
  if (info.interlace !== 0) return false;
  const samples = info.colorType === 3 ? 3 : pngChannels(info.colorType);
  if (info.width * info.height * samples > SHRINK_PNG_MAX_SAMPLES) return false;
  if ((info.chunks.has('iCCP') && !profileHandled) || info.chunks.has('eXIf') || info.chunks.has('cICP')) return false;
  const { width, height } = options;
  if ((options.fit ?? 'fill') !== 'fill' && width * info.height !== height * info.width) return false;
  return width < info.width || height < info.height;
}

/** Decoded PNG samples: 8-bit (`Uint8Array`) or 16-bit (`Uint16Array`), interleaved. */
export interface PngPixels {
  width: number;
  height: number;
  /** 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA (palettes expand to RGB or RGBA). */
  channels: 1 | 2 | 3 | 4;
  hasAlpha: boolean;
  data: Uint8Array | Uint16Array;
}

function concatIdat(bytes: Uint8Array, info: PngInfo): Uint8Array {
  const [first] = info.idat;
  if (info.idat.length === 1 && first) return bytes.subarray(first[0], first[1]);
  let total = 0;
  for (const [s, e] of info.idat) total += e - s;
  const out = new Uint8Array(total);
  let o = 0;
  for (const [s, e] of info.idat) {
    out.set(bytes.subarray(s, e), o);
    o += e - s;
  }
  return out;
}

/**
 * Image data that inflates to at most this many bytes goes through `inflateSmall` first. Measured
 * per call on one thread (PNGs of a photo, zlib level 6; MNIST from fast-png): 812 bytes (28x28
 * MNIST) 3.0 us in JS vs 4.2 us in node:zlib; 784 bytes of photo 6 vs 10 us; 2,380 bytes 14 vs
 * 10 us; 12 KB 67 vs 36 us. node:zlib's fixed cost (a zlib object per call) loses below ~1.5 KB,
 * its faster inner loop wins above.
 */
export const JS_INFLATE_MAX_BYTES = 1536;

/** Scratch buffers of the `reuse` mode of `decodePng`, grown as needed. */
let inflateScratch = new Uint8Array(0);
let rowsScratch = new Uint8Array(0);

function inflate(bytes: Uint8Array, info: PngInfo, expected: number, reuse: boolean): Uint8Array {
  const compressed = concatIdat(bytes, info);
  if (expected <= JS_INFLATE_MAX_BYTES) {
    if (reuse && inflateScratch.length < expected) inflateScratch = new Uint8Array(Math.max(expected, 4096));
    const out = inflateSmall(compressed, expected, reuse ? inflateScratch : new Uint8Array(expected));
    if (out) return out;
  }
  try {
    // chunkSize: node:zlib otherwise allocates 16 KiB of output per call, whatever the image.
    return inflateSync(compressed, { maxOutputLength: expected, chunkSize: Math.max(64, Math.min(expected + 1, 64 * 1024)) });
  } catch (err) {
    const code = (err as { code?: string }).code;
    // More data than the image needs: libvips ignores the excess, so let sharp decode it.
    if (code === 'ERR_BUFFER_TOO_LARGE') throw new FastPathDeclined('IDAT inflates to more data than the image needs');
    const message = err instanceof Error ? err.message : String(err);
    if (code === 'Z_BUF_ERROR') {
      throw new PngDataError('corrupt', `PNG image data (IDAT) ends before its compressed stream does (zlib: ${message})`);
    }
    throw new PngDataError('corrupt', `PNG image data (IDAT) does not inflate (zlib: ${message})`);
  }
}

/**
 * Reverses the per-row filters of `raw` (rows of 1 filter byte + `rowBytes`) into `out`
 * (rows of `rowBytes`). `bpp` is the filter's pixel stride in bytes (at least 1).
 */
function unfilter(raw: Uint8Array, out: Uint8Array, height: number, rowBytes: number, bpp: number): void {
  // The SIMD module's unfiltering, once this thread has built it (`image-simd.ts`: same bytes).
  // Before that, and for a row with an unknown filter type (which the JS names), the JS runs.
  const bad = unfilterSimd(raw, out, height, rowBytes, bpp);
  if (bad === -1) return;
  if (bad === undefined) void prepareImageSimd();
  unfilterJs(raw, out, height, rowBytes, bpp);
}

/** `unfilter` in JS: before the SIMD module is ready, or where it cannot build. */
export function unfilterJs(raw: Uint8Array, out: Uint8Array, height: number, rowBytes: number, bpp: number): void {
  for (let y = 0; y < height; y++) {
    const ri = y * (rowBytes + 1) + 1;
    const oi = y * rowBytes;
    const pi = oi - rowBytes; // previous output row; negative on the first row
    const filter = raw[ri - 1] as number;
    switch (filter) {
      case 0:
        out.set(raw.subarray(ri, ri + rowBytes), oi);
        break;
      case 1:
        for (let i = 0; i < bpp; i++) out[oi + i] = raw[ri + i] as number;
        for (let i = bpp; i < rowBytes; i++) out[oi + i] = (raw[ri + i] as number) + (out[oi + i - bpp] as number);
        break;
      case 2:
        if (y === 0) out.set(raw.subarray(ri, ri + rowBytes), oi);
        else for (let i = 0; i < rowBytes; i++) out[oi + i] = (raw[ri + i] as number) + (out[pi + i] as number);
        break;
      case 3:
        if (y === 0) {
          for (let i = 0; i < bpp; i++) out[oi + i] = raw[ri + i] as number;
          for (let i = bpp; i < rowBytes; i++) out[oi + i] = (raw[ri + i] as number) + ((out[oi + i - bpp] as number) >> 1);
        } else {
          for (let i = 0; i < bpp; i++) out[oi + i] = (raw[ri + i] as number) + ((out[pi + i] as number) >> 1);
          for (let i = bpp; i < rowBytes; i++) {
            out[oi + i] = (raw[ri + i] as number) + (((out[oi + i - bpp] as number) + (out[pi + i] as number)) >> 1);
          }
        }
        break;
      case 4:
        if (y === 0) {
          // Paeth with no row above is Sub.
          for (let i = 0; i < bpp; i++) out[oi + i] = raw[ri + i] as number;
          for (let i = bpp; i < rowBytes; i++) out[oi + i] = (raw[ri + i] as number) + (out[oi + i - bpp] as number);
        } else {
          for (let i = 0; i < bpp; i++) out[oi + i] = (raw[ri + i] as number) + (out[pi + i] as number);
          if (bpp === 1) paeth1(raw, out, ri, oi, pi, rowBytes);
          else {
            for (let i = bpp; i < rowBytes; i++) {
              out[oi + i] = (raw[ri + i] as number) + paethPredictor(out[oi + i - bpp] as number, out[pi + i] as number, out[pi + i - bpp] as number);
            }
          }
        }
        break;
      default:
        throw new PngDataError('corrupt', `PNG row ${y} uses filter type ${filter}; only 0-4 exist`);
    }
  }
}

/**
 * The Paeth predictor of left `a`, upper `b` and upper-left `c`, without branches: the choice
 * depends on the pixel data, so branches mispredict on photos (the branching form ran 2.5x
 * slower on grass.png). Masks from the signs of the distance differences pick a, b or c.
 */
function paethPredictor(a: number, b: number, c: number): number {
  let pa = b - c;
  pa = (pa ^ (pa >> 31)) - (pa >> 31);
  let pb = a - c;
  pb = (pb ^ (pb >> 31)) - (pb >> 31);
  let pc = a + b - c - c;
  pc = (pc ^ (pc >> 31)) - (pc >> 31);
  const notA = ((pb - pa) | (pc - pa)) >> 31; // -1 when pa > pb or pa > pc
  const cNotB = (pc - pb) >> 31; // -1 when pb > pc
  return (a & ~notA) | (((b & ~cNotB) | (c & cNotB)) & notA);
}

/** Paeth-unfiltered row of one byte per pixel, the left and upper-left bytes kept in registers. */
function paeth1(raw: Uint8Array, out: Uint8Array, ri: number, oi: number, pi: number, rowBytes: number): void {
  let a = out[oi] as number;
  let c = out[pi] as number;
  for (let i = 1; i < rowBytes; i++) {
    const b = out[pi + i] as number;
    a = ((raw[ri + i] as number) + paethPredictor(a, b, c)) & 255;
    out[oi + i] = a;
    c = b;
  }
}

/** RGBA lookup of the palette, with tRNS alpha; out-of-range indices read as opaque black, as libvips does. */
function paletteTable(bytes: Uint8Array, info: PngInfo): Uint8Array {
  const table = new Uint8Array(256 * 4);
  for (let i = 0; i < 256; i++) table[i * 4 + 3] = 255;
  if (info.plte) {
    const [s, e] = info.plte;
    for (let i = 0; i < (e - s) / 3; i++) {
      table[i * 4] = bytes[s + i * 3] as number;
      table[i * 4 + 1] = bytes[s + i * 3 + 1] as number;
      table[i * 4 + 2] = bytes[s + i * 3 + 2] as number;
    }
  }
  if (info.trns) {
    const [s, e] = info.trns;
    for (let i = 0; i < Math.min(256, e - s); i++) table[i * 4 + 3] = bytes[s + i] as number;
  }
  return table;
}

/** The tRNS colour key of a grey or RGB image, as samples of the image's bit depth. */
function colourKey(bytes: Uint8Array, info: PngInfo): number[] | undefined {
  if (!info.trns || (info.colorType !== 0 && info.colorType !== 2)) return undefined;
  const [s, e] = info.trns;
  const n = info.colorType === 0 ? 1 : 3;
  if (e - s < n * 2) return undefined;
  const mask = info.bitDepth === 16 ? 0xffff : (1 << info.bitDepth) - 1;
  return Array.from({ length: n }, (_, i) => (((bytes[s + i * 2] as number) << 8) | (bytes[s + i * 2 + 1] as number)) & mask);
}

/**
 * Decodes a PNG that `inspectPng` accepted and `fastPngEligible` allows. With `reuse`, the
 * inflated data and, for 8-bit images without a colour key, the returned samples live in
 * scratch memory that the next `reuse` call overwrites: the caller must copy them out first.
 */
export function decodePng(bytes: Uint8Array, info: PngInfo, reuse = false): PngPixels {
  const { width, height, bitDepth, colorType } = info;
  const samples = pngChannels(colorType);
  const bitsPerPixel = samples * bitDepth;
  const rowBytes = Math.ceil((width * bitsPerPixel) / 8);
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const raw = inflate(bytes, info, height * (rowBytes + 1), reuse);
  if (raw.length < height * (rowBytes + 1)) {
    throw new PngDataError('corrupt', `PNG image data inflates to ${raw.length.toLocaleString('en-US')} bytes; a ${width}x${height} image needs ${(height * (rowBytes + 1)).toLocaleString('en-US')}`);
  }
  let rows: Uint8Array;
  if (reuse) {
    if (rowsScratch.length < height * rowBytes) rowsScratch = new Uint8Array(Math.max(height * rowBytes, 4096));
    rows = rowsScratch.subarray(0, height * rowBytes);
  } else {
    rows = new Uint8Array(height * rowBytes);
  }
  unfilter(raw, rows, height, rowBytes, bpp);
  const pixels = width * height;
  const key = colourKey(bytes, info);

  if (colorType === 3) {
    const table = paletteTable(bytes, info);
    const channels = info.trns ? 4 : 3;
    const out = new Uint8Array(pixels * channels);
    const perByte = 8 / bitDepth;
    const mask = (1 << bitDepth) - 1;
    for (let y = 0, o = 0; y < height; y++) {
      const ri = y * rowBytes;
      for (let x = 0; x < width; x++, o += channels) {
        const index =
          bitDepth === 8
            ? (rows[ri + x] as number)
            : ((rows[ri + Math.floor(x / perByte)] as number) >> (8 - bitDepth * ((x % perByte) + 1))) & mask;
        out[o] = table[index * 4] as number;
        out[o + 1] = table[index * 4 + 1] as number;
        out[o + 2] = table[index * 4 + 2] as number;
        if (channels === 4) out[o + 3] = table[index * 4 + 3] as number;
      }
    }
    return { width, height, channels, hasAlpha: channels === 4, data: out };
  }

  if (bitDepth < 8) {
    // Sub-byte grey, scaled to 0-255 as libvips does (1-bit: x255, 2-bit: x85, 4-bit: x17).
    const scale = 255 / ((1 << bitDepth) - 1);
    const perByte = 8 / bitDepth;
    const mask = (1 << bitDepth) - 1;
    const keyValue = key?.[0];
    const channels = keyValue === undefined ? 1 : 2;
    const out = new Uint8Array(pixels * channels);
    for (let y = 0, o = 0; y < height; y++) {
      const ri = y * rowBytes;
      for (let x = 0; x < width; x++, o += channels) {
        const v = ((rows[ri + Math.floor(x / perByte)] as number) >> (8 - bitDepth * ((x % perByte) + 1))) & mask;
        out[o] = v * scale;
        if (channels === 2) out[o + 1] = v === keyValue ? 0 : 255;
      }
    }
    return { width, height, channels, hasAlpha: channels === 2, data: out };
  }

  const hasKey = key !== undefined;
  const outChannels = (samples + (hasKey ? 1 : 0)) as 1 | 2 | 3 | 4;
  const hasAlpha = colorType === 4 || colorType === 6 || hasKey;
  if (bitDepth === 8) {
    if (!hasKey) return { width, height, channels: outChannels, hasAlpha, data: rows };
    const out = new Uint8Array(pixels * outChannels);
    for (let p = 0; p < pixels; p++) {
      let match = true;
      for (let c = 0; c < samples; c++) {
        const v = rows[p * samples + c] as number;
        out[p * outChannels + c] = v;
        if (v !== key[c]) match = false;
      }
      out[p * outChannels + samples] = match ? 0 : 255;
    }
    return { width, height, channels: outChannels, hasAlpha, data: out };
  }

  // 16-bit: big-endian samples.
  const out = new Uint16Array(pixels * outChannels);
  for (let p = 0; p < pixels; p++) {
    let match = true;
    for (let c = 0; c < samples; c++) {
      const i = (p * samples + c) * 2;
      const v = ((rows[i] as number) << 8) | (rows[i + 1] as number);
      out[p * outChannels + c] = v;
      if (hasKey && v !== key[c]) match = false;
    }
    if (hasKey) out[p * outChannels + samples] = match ? 0 : 65535;
  }
  return { width, height, channels: outChannels, hasAlpha, data: out };
}

// Small zlib streams in JS. node:zlib's inflateSync builds and tears down a zlib object per
// call, ~4 us whatever the size: more than the JS inflate of a 28x28 image (~3 us). `inflateSmall`
// only ever returns output it is sure of: a well-formed stream, complete Huffman codes, distances
// inside the output, exactly `expected` bytes, the Adler-32 matching and no bytes after it.
// Anything else returns undefined and node:zlib decides, so errors and edge cases (short data,
// excess data, trailing bytes, preset dictionaries) keep node:zlib's outcome and message.
// Checked against node:zlib on 4,000 streams of every strategy and level, whole and damaged
// (tests/unit/data/png-decode.test.ts).

const LEN_BASE = Uint16Array.of(3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258);
const LEN_EXTRA = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0);
const DIST_BASE = Uint16Array.of(1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577);
const DIST_EXTRA = Uint8Array.of(0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13);
const CL_ORDER = Uint8Array.of(16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15);

/**
 * A canonical Huffman code: a `bits`-bit lookup by the next input bits ((symbol << 4) | length,
 * 0 where the code is longer) and the canonical tables for longer codes.
 */
interface Huffman {
  bits: number;
  fast: Int32Array;
  count: Uint16Array;
  symbol: Uint16Array;
}

function newHuffman(symbols: number, bits: number): Huffman {
  return { bits, fast: new Int32Array(1 << bits), count: new Uint16Array(16), symbol: new Uint16Array(symbols) };
}

/** 9-bit bit reversal. */
const REV9 = Uint16Array.from({ length: 512 }, (_, v) => {
  let r = 0;
  for (let b = 0; b < 9; b++) r |= ((v >> b) & 1) << (8 - b);
  return r;
});
const offs = new Uint16Array(16);

/**
 * Builds `h` from code lengths `lengths[from, from + n)`. False when the code is over-subscribed
 * or incomplete (zlib accepts one incomplete case, a single 1-bit code; it is left to zlib).
 */
function buildHuffman(h: Huffman, lengths: Uint8Array, from: number, n: number): boolean {
  const { count, symbol, fast, bits } = h;
  count.fill(0);
  for (let s = 0; s < n; s++) count[lengths[from + s] as number]!++;
  count[0] = 0;
  let left = 1;
  let max = 0;
  for (let len = 1; len < 16; len++) {
    left = (left << 1) - (count[len] as number);
    if (left < 0) return false;
    if (count[len] !== 0) max = len;
  }
  if (left !== 0) return false;
  offs[1] = 0;
  for (let len = 1; len < 15; len++) offs[len + 1] = (offs[len] as number) + (count[len] as number);
  for (let s = 0; s < n; s++) {
    const len = lengths[from + s] as number;
    if (len !== 0) symbol[offs[len]!++] = s;
  }
  // A complete code whose codes all fit the table writes every slot; otherwise clear it first.
  if (max > bits) fast.fill(0);
  const size = 1 << bits;
  // Canonical codes in order; a code of length <= bits fills every slot whose low bits are its reversed code.
  let code = 0;
  let k = 0;
  for (let len = 1; len <= bits; len++) {
    const c = count[len] as number;
    for (let i = 0; i < c; i++, k++, code++) {
      const entry = ((symbol[k] as number) << 4) | len;
      for (let slot = REV9[code << (9 - len)] as number; slot < size; slot += 1 << len) fast[slot] = entry;
    }
    code <<= 1;
  }
  return true;
}

const FIXED_LIT = newHuffman(288, 9);
/** 32 codes of 5 bits (30 and 31 invalid if met): 30 would be an incomplete code. */
const FIXED_DIST = newHuffman(32, 5);
{
  const l = new Uint8Array(288);
  l.fill(8, 0, 144);
  l.fill(9, 144, 256);
  l.fill(7, 256, 280);
  l.fill(8, 280, 288);
  buildHuffman(FIXED_LIT, l, 0, 288);
  buildHuffman(FIXED_DIST, new Uint8Array(32).fill(5), 0, 32);
}
const DYN_LIT = newHuffman(288, 9);
const DYN_DIST = newHuffman(32, 8);
const DYN_CL = newHuffman(19, 7);
const lengthsScratch = new Uint8Array(288 + 32);
const clLengths = new Uint8Array(19);

/**
 * Inflates the zlib stream `src` into the first `expected` bytes of `out`: `out` when the stream
 * is valid and inflates to exactly `expected` bytes, else undefined (node:zlib then decides).
 */
export function inflateSmall(src: Uint8Array, expected: number, out: Uint8Array = new Uint8Array(expected)): Uint8Array | undefined {
  const end = src.length;
  if (end < 6) return undefined;
  const cmf = src[0] as number;
  const flg = src[1] as number;
  if ((cmf & 15) !== 8 || cmf >> 4 > 7 || (cmf * 256 + flg) % 31 !== 0 || (flg & 32) !== 0) return undefined;
  let pos = 2;
  let bitbuf = 0;
  let bitcnt = 0;
  let op = 0;
  // Reads past the end supply zero bits; the final position check rejects such a stream.
  const limit = end + 4;
  let final = 0;
  do {
    while (bitcnt <= 23) {
      bitbuf |= (pos < end ? (src[pos] as number) : 0) << bitcnt;
      pos++;
      bitcnt += 8;
    }
    if (pos > limit) return undefined;
    final = bitbuf & 1;
    const type = (bitbuf >> 1) & 3;
    bitbuf >>= 3;
    bitcnt -= 3;
    if (type === 0) {
      // Stored: drop to a byte boundary, then LEN and NLEN.
      const drop = bitcnt & 7;
      bitbuf >>= drop;
      bitcnt -= drop;
      let p = pos - (bitcnt >> 3);
      bitbuf = 0;
      bitcnt = 0;
      if (p + 4 > end) return undefined;
      const len = (src[p] as number) | ((src[p + 1] as number) << 8);
      const nlen = (src[p + 2] as number) | ((src[p + 3] as number) << 8);
      p += 4;
      if ((len ^ 0xffff) !== nlen || p + len > end || op + len > expected) return undefined;
      out.set(src.subarray(p, p + len), op);
      op += len;
      pos = p + len;
      continue;
    }
    let lit: Huffman;
    let dist: Huffman;
    if (type === 1) {
      lit = FIXED_LIT;
      dist = FIXED_DIST;
    } else if (type === 2) {
      const hlit = (bitbuf & 31) + 257;
      const hdist = ((bitbuf >> 5) & 31) + 1;
      const hclen = ((bitbuf >> 10) & 15) + 4;
      bitbuf >>= 14;
      bitcnt -= 14;
      if (hlit > 286 || hdist > 30) return undefined;
      clLengths.fill(0);
      for (let i = 0; i < hclen; i++) {
        if (bitcnt < 3) {
          bitbuf |= (pos < end ? (src[pos] as number) : 0) << bitcnt;
          pos++;
          bitcnt += 8;
        }
        clLengths[CL_ORDER[i] as number] = bitbuf & 7;
        bitbuf >>= 3;
        bitcnt -= 3;
      }
      if (!buildHuffman(DYN_CL, clLengths, 0, 19)) return undefined;
      const total = hlit + hdist;
      const lengths = lengthsScratch;
      for (let i = 0; i < total; ) {
        while (bitcnt <= 23) {
          bitbuf |= (pos < end ? (src[pos] as number) : 0) << bitcnt;
          pos++;
          bitcnt += 8;
        }
        if (pos > limit) return undefined;
        const e = DYN_CL.fast[bitbuf & 127] as number;
        // Code-length codes are at most 7 bits, so a complete code always hits the table.
        const len = e & 15;
        const sym = e >> 4;
        bitbuf >>= len;
        bitcnt -= len;
        if (sym < 16) {
          lengths[i++] = sym;
          continue;
        }
        let repeat: number;
        let value = 0;
        if (sym === 16) {
          if (i === 0) return undefined;
          value = lengths[i - 1] as number;
          repeat = 3 + (bitbuf & 3);
          bitbuf >>= 2;
          bitcnt -= 2;
        } else if (sym === 17) {
          repeat = 3 + (bitbuf & 7);
          bitbuf >>= 3;
          bitcnt -= 3;
        } else {
          repeat = 11 + (bitbuf & 127);
          bitbuf >>= 7;
          bitcnt -= 7;
        }
        if (i + repeat > total) return undefined;
        lengths.fill(value, i, i + repeat);
        i += repeat;
      }
      if (lengths[256] === 0) return undefined;
      if (!buildHuffman(DYN_LIT, lengths, 0, hlit)) return undefined;
      if (!buildHuffman(DYN_DIST, lengths, hlit, hdist)) return undefined;
      lit = DYN_LIT;
      dist = DYN_DIST;
    } else {
      return undefined;
    }
    const litFast = lit.fast;
    const litMask = (1 << lit.bits) - 1;
    const distFast = dist.fast;
    const distMask = (1 << dist.bits) - 1;
    for (;;) {
      while (bitcnt <= 23) {
        bitbuf |= (pos < end ? (src[pos] as number) : 0) << bitcnt;
        pos++;
        bitcnt += 8;
      }
      if (pos > limit) return undefined;
      let sym: number;
      let e = litFast[bitbuf & litMask] as number;
      if (e !== 0) {
        const len = e & 15;
        bitbuf >>= len;
        bitcnt -= len;
        sym = e >> 4;
      } else {
        sym = slowDecode(lit, bitbuf);
        if (sym < 0) return undefined;
        const len = sym & 15;
        sym >>= 4;
        bitbuf >>= len;
        bitcnt -= len;
      }
      if (sym < 256) {
        if (op >= expected) return undefined;
        out[op++] = sym;
        continue;
      }
      if (sym === 256) break;
      const li = sym - 257;
      if (li >= 29) return undefined;
      const lextra = LEN_EXTRA[li] as number;
      const length = (LEN_BASE[li] as number) + (bitbuf & ((1 << lextra) - 1));
      bitbuf >>= lextra;
      bitcnt -= lextra;
      while (bitcnt <= 23) {
        bitbuf |= (pos < end ? (src[pos] as number) : 0) << bitcnt;
        pos++;
        bitcnt += 8;
      }
      e = distFast[bitbuf & distMask] as number;
      let dsym: number;
      if (e !== 0) {
        const len = e & 15;
        bitbuf >>= len;
        bitcnt -= len;
        dsym = e >> 4;
      } else {
        dsym = slowDecode(dist, bitbuf);
        if (dsym < 0) return undefined;
        const len = dsym & 15;
        dsym >>= 4;
        bitbuf >>= len;
        bitcnt -= len;
      }
      if (dsym >= 30) return undefined;
      const dextra = DIST_EXTRA[dsym] as number;
      if (bitcnt < dextra) {
        bitbuf |= (pos < end ? (src[pos] as number) : 0) << bitcnt;
        pos++;
        bitcnt += 8;
      }
      const distance = (DIST_BASE[dsym] as number) + (bitbuf & ((1 << dextra) - 1));
      bitbuf >>= dextra;
      bitcnt -= dextra;
      if (distance > op || op + length > expected) return undefined;
      if (distance === 1) {
        out.fill(out[op - 1] as number, op, op + length);
        op += length;
      } else if (length > 24 && distance >= length) {
        out.copyWithin(op, op - distance, op - distance + length);
        op += length;
      } else {
        for (let k = 0, from = op - distance; k < length; k++) out[op++] = out[from + k] as number;
      }
    }
  } while (final === 0);
  // Adler-32, big-endian, from the next byte boundary; nothing may follow it.
  const p = pos - (bitcnt >> 3);
  if (op !== expected || p + 4 !== end) return undefined;
  const stored = (((src[p] as number) << 24) | ((src[p + 1] as number) << 16) | ((src[p + 2] as number) << 8) | (src[p + 3] as number)) >>> 0;
  return adler32(out, op) === stored ? out : undefined;
}

/** Decodes a code longer than FAST_BITS bit by bit: (symbol << 4) | length, or -1 when invalid. */
function slowDecode(h: Huffman, bits: number): number {
  const { count, symbol } = h;
  let code = 0;
  let first = 0;
  let index = 0;
  for (let len = 1; len < 16; len++) {
    code |= (bits >>> (len - 1)) & 1;
    const n = count[len] as number;
    if (code - n < first) return ((symbol[index + code - first] as number) << 4) | len;
    index += n;
    first = (first + n) << 1;
    code <<= 1;
  }
  return -1;
}

function adler32(data: Uint8Array, n: number): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < n; ) {
    const stop = Math.min(n, i + 3800);
    for (; i < stop; i++) {
      a += data[i] as number;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}
