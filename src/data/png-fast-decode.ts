/**
 * The fast PNG path. For small images (MNIST is 28x28) sharp's per-image setup costs far more
 * than the pixels, so small PNGs are decoded here: node:zlib's native `inflateSync` (which also
 * verifies the zlib stream's Adler-32) plus unfiltering in JS, after `inspectPng` has checked
 * every chunk CRC. It handles every non-interlaced PNG: colour types 0/2/3/4/6, bit depths
 * 1/2/4/8/16, all five filter types, and tRNS (palette alpha and grey/RGB colour keys), giving
 * the same samples libvips' PNG loader gives.
 *
 * Per thread on 10,000 MNIST PNGs (bench/data-prep.ts, three runs on a shared 2-core machine,
 * decode only, CRCs checked): this decoder 71,000-100,000 img/s, fast-png 8 (pure-JS inflate)
 * 22,000-39,000 img/s (2.3-3.2x slower in the same run), sharp 1,600-2,600 img/s. zlib's inflate
 * is ~7 us of the ~10-13 us per image.
 *
 * Resizing: the phase-1 target for MNIST is 28x28 -> 32x32, so the fast path also enlarges
 * (`upsampleLikeSharp`, which reproduces sharp's output exactly) instead of handing every
 * resized image to sharp. Measured per thread, decode + resize to 32x32 grey: fast path
 * 35,000-39,000 img/s, sharp 1,200-1,400 img/s (Pillow, per the issue: ~11,900 img/s).
 * Shrinking is left to sharp: its anti-aliasing reducer is not reproduced here.
 */
import { inflateSync } from 'node:zlib';
import type { DecodeOptions } from './decode.js';
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

function inflate(bytes: Uint8Array, info: PngInfo, expected: number): Uint8Array {
  const compressed = concatIdat(bytes, info);
  try {
    return inflateSync(compressed, { maxOutputLength: expected });
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
          for (let i = bpp; i < rowBytes; i++) {
            const a = out[oi + i - bpp] as number;
            const b = out[pi + i] as number;
            const c = out[pi + i - bpp] as number;
            const p = a + b - c;
            const pa = p > a ? p - a : a - p;
            const pb = p > b ? p - b : b - p;
            const pc = p > c ? p - c : c - p;
            out[oi + i] = (raw[ri + i] as number) + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
          }
        }
        break;
      default:
        throw new PngDataError('corrupt', `PNG row ${y} uses filter type ${filter}; only 0-4 exist`);
    }
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

/** Decodes a PNG that `inspectPng` accepted and `fastPngEligible` allows. */
export function decodePng(bytes: Uint8Array, info: PngInfo): PngPixels {
  const { width, height, bitDepth, colorType } = info;
  const samples = pngChannels(colorType);
  const bitsPerPixel = samples * bitDepth;
  const rowBytes = Math.ceil((width * bitsPerPixel) / 8);
  const bpp = Math.max(1, bitsPerPixel >> 3);
  const raw = inflate(bytes, info, height * (rowBytes + 1));
  if (raw.length < height * (rowBytes + 1)) {
    throw new PngDataError('corrupt', `PNG image data inflates to ${raw.length.toLocaleString('en-US')} bytes; a ${width}x${height} image needs ${(height * (rowBytes + 1)).toLocaleString('en-US')}`);
  }
  const rows = new Uint8Array(height * rowBytes);
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
