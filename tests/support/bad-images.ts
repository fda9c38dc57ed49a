/**
 * Generated broken image files, one or more per quarantine reason, and a small raw PNG writer
 * (any colour type, bit depth and filter) to build them and test PNG decoding with.
 *
 * The reasons hold under the dataset config's quarantine defaults: `maxPixels` 50,000,000 and
 * `minSide` 8 (decodeImage's own `minSide` default is 1: pass `{ minSide: 8 }`).
 */
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import type { DecodeFailureReason } from '../../src/data/decode.js';

export interface BadImage {
  /** File name with an image extension, e.g. `cut-short.png` (extensions deliberately lie for non-images). */
  name: string;
  bytes: Uint8Array;
  reason: DecodeFailureReason;
}

/** Settings under which every `badImages()` reason holds. */
export const BAD_IMAGE_LIMITS = { maxPixels: 50_000_000, minSide: 8 } as const;

const PNG_SIGNATURE = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** One PNG chunk (length, type, data, CRC). */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length, false);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)), false);
  return out;
}

export interface RawPng {
  width: number;
  height: number;
  bitDepth: number;
  /** 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA. */
  colorType: number;
  /** Packed, unfiltered bytes of each row, as the PNG spec lays them out (16-bit big-endian). */
  rows: Uint8Array[];
  /** Filter type (0-4) of each row; a number applies to every row. Defaults to 0. */
  filter?: number | ((row: number) => number);
  /** Chunks between IHDR and IDAT (PLTE, tRNS, ...). */
  chunks?: { type: string; data: Uint8Array }[];
  /** Splits the compressed data into IDAT chunks of at most this many bytes. */
  idatSize?: number;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Filters one row with `type`, given the previous unfiltered row and the pixel stride. */
function filterRow(type: number, row: Uint8Array, prev: Uint8Array | undefined, bpp: number): Uint8Array {
  const out = new Uint8Array(row.length + 1);
  out[0] = type;
  for (let i = 0; i < row.length; i++) {
    const x = row[i] ?? 0;
    const a = i >= bpp ? (row[i - bpp] ?? 0) : 0;
    const b = prev?.[i] ?? 0;
    const c = i >= bpp ? (prev?.[i - bpp] ?? 0) : 0;
    const predictor = type === 0 ? 0 : type === 1 ? a : type === 2 ? b : type === 3 ? (a + b) >> 1 : type === 4 ? paeth(a, b, c) : 0;
    out[i + 1] = (x - predictor) & 0xff;
  }
  return out;
}

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Writes a PNG from raw rows, with a real filter per row and optional extra chunks. */
export function encodePng(png: RawPng): Uint8Array {
  const ihdr = new Uint8Array(13);
  const view = new DataView(ihdr.buffer);
  view.setUint32(0, png.width, false);
  view.setUint32(4, png.height, false);
  ihdr[8] = png.bitDepth;
  ihdr[9] = png.colorType;
  const bpp = Math.max(1, ((CHANNELS[png.colorType] ?? 1) * png.bitDepth) >> 3);
  const filterOf = typeof png.filter === 'function' ? png.filter : () => (png.filter as number | undefined) ?? 0;
  const filtered = png.rows.map((row, y) => filterRow(filterOf(y), row, png.rows[y - 1], bpp));
  const compressed = deflateSync(concat(filtered));
  const idatSize = png.idatSize ?? compressed.length;
  const idats: Uint8Array[] = [];
  for (let at = 0; at < compressed.length; at += idatSize) idats.push(pngChunk('IDAT', compressed.subarray(at, at + idatSize)));
  return concat([
    PNG_SIGNATURE,
    pngChunk('IHDR', ihdr),
    ...(png.chunks ?? []).map((c) => pngChunk(c.type, c.data)),
    ...idats,
    pngChunk('IEND', new Uint8Array(0)),
  ]);
}

/** Rows of an 8-bit image with `channels` samples per pixel, from a pixel function. */
export function rows8(width: number, height: number, channels: number, value: (x: number, y: number, c: number) => number): Uint8Array[] {
  return Array.from({ length: height }, (_, y) => Uint8Array.from({ length: width * channels }, (_, i) => value(Math.floor(i / channels), y, i % channels) & 0xff));
}

/** A deterministic textured RGB image, so files compress like photos rather than flat colour. */
function texture(width: number, height: number, seed: number): Uint8Array {
  let s = seed >>> 0;
  return Uint8Array.from({ length: width * height * 3 }, (_, i) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    const p = Math.floor(i / 3);
    return ((p % width) * 5 + Math.floor(p / width) * 3 + (i % 3) * 60 + (s >>> 27)) & 0xff;
  });
}

async function jpegOf(width: number, height: number, seed: number): Promise<Uint8Array> {
  return new Uint8Array(await sharp(texture(width, height, seed), { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer());
}

function pngOf(width: number, height: number, seed: number): Uint8Array {
  const data = texture(width, height, seed);
  return encodePng({ width, height, bitDepth: 8, colorType: 2, filter: 1, rows: rows8(width, height, 3, (x, y, c) => data[(y * width + x) * 3 + c] ?? 0) });
}

/** Index of the first byte after the JPEG SOS segment header (the start of the scan data). */
function scanStart(jpeg: Uint8Array): number {
  for (let i = 2; i + 3 < jpeg.length; i++) {
    if (jpeg[i] === 0xff && jpeg[i + 1] === 0xda) return i + 2 + (((jpeg[i + 2] ?? 0) << 8) | (jpeg[i + 3] ?? 0));
  }
  throw new Error('no SOS marker');
}

/** Offset of the first JPEG start-of-frame marker (FFC0/FFC2). */
function sofOffset(jpeg: Uint8Array): number {
  for (let i = 2; i + 1 < jpeg.length; i++) if (jpeg[i] === 0xff && (jpeg[i + 1] === 0xc0 || jpeg[i + 1] === 0xc2)) return i;
  throw new Error('no SOF marker');
}

/** Offset of the first chunk of `type` in a PNG. */
function chunkOffset(png: Uint8Array, type: string): number {
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  for (let at = 8; at + 8 <= png.length; at += 12 + view.getUint32(at, false)) {
    if (String.fromCharCode(...png.subarray(at + 4, at + 8)) === type) return at;
  }
  throw new Error(`no ${type} chunk`);
}

/** A 2x2 24-bit Windows BMP. */
function bmp(): Uint8Array {
  const out = new Uint8Array(54 + 16);
  const v = new DataView(out.buffer);
  out[0] = 0x42;
  out[1] = 0x4d;
  v.setUint32(2, out.length, true);
  v.setUint32(10, 54, true);
  v.setUint32(14, 40, true);
  v.setInt32(18, 2, true);
  v.setInt32(22, 2, true);
  v.setUint16(26, 1, true);
  v.setUint16(28, 24, true);
  v.setUint32(34, 16, true);
  out.fill(0x80, 54);
  return out;
}

/**
 * At least one file per quarantine reason, several formats for truncated and corrupt. Names are
 * unique and carry image extensions (a PDF named .png is the point of one of them).
 */
export async function badImages(): Promise<BadImage[]> {
  const text = (s: string) => new TextEncoder().encode(s);
  const jpeg = await jpegOf(48, 40, 1);
  const png = pngOf(24, 20, 2);
  const scan = scanStart(jpeg);

  // A JPEG whose scan data is scrambled: the markers are intact, the entropy-coded data is not.
  const scrambled = Uint8Array.from(jpeg);
  let s = 7;
  for (let i = scan + 16; i < scrambled.length - 16; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    if (scrambled[i] !== 0xff && scrambled[i - 1] !== 0xff) scrambled[i] = (s >>> 16) % 0xff;
  }

  // IDAT replaced by bytes that are not a zlib stream, with a correct CRC: only inflating finds it.
  const garbageIdat = concat([
    png.subarray(0, chunkOffset(png, 'IDAT')),
    pngChunk('IDAT', Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff)),
    pngChunk('IEND', new Uint8Array(0)),
  ]);

  // One byte of image data flipped: the IDAT chunk's CRC no longer matches.
  const badCrc = Uint8Array.from(png);
  const idatAt = chunkOffset(png, 'IDAT');
  badCrc[idatAt + 8 + 10] = (badCrc[idatAt + 8 + 10] ?? 0) ^ 0x5a;

  // RGB with bit depth 4 does not exist.
  const badHeader = Uint8Array.from(png);
  badHeader.set(pngChunk('IHDR', Uint8Array.from([0, 0, 0, 24, 0, 0, 0, 20, 4, 2, 0, 0, 0])), 8);

  // 20000x20000 grey declared, a few hundred bytes on disk: the zlib stream would inflate to 400 MB.
  const bombPng = encodePng({ width: 20000, height: 20000, bitDepth: 8, colorType: 0, rows: [new Uint8Array(20000)] });

  // A real JPEG whose frame header is patched to claim 12000x12000.
  const bombJpeg = Uint8Array.from(jpeg);
  const sof = sofOffset(bombJpeg);
  new DataView(bombJpeg.buffer).setUint16(sof + 5, 12000, false);
  new DataView(bombJpeg.buffer).setUint16(sof + 7, 12000, false);

  const raw40 = () => sharp(texture(40, 40, 3), { raw: { width: 40, height: 40, channels: 3 } });
  const webp = new Uint8Array(await raw40().webp({ quality: 80 }).toBuffer());
  const tiff = new Uint8Array(await raw40().tiff({ compression: 'lzw' }).toBuffer());
  const gif = new Uint8Array(await raw40().gif().toBuffer());

  return [
    { name: 'empty.png', bytes: new Uint8Array(0), reason: 'zero-byte' },
    { name: 'notes.png', bytes: text('These are my notes about the cat pictures.\n'), reason: 'unsupported-format' },
    { name: 'document.png', bytes: text('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n'), reason: 'unsupported-format' },
    { name: 'bitmap.jpg', bytes: bmp(), reason: 'unsupported-format' },
    { name: 'cut-short.png', bytes: png.subarray(0, Math.floor(png.length * 0.6)), reason: 'truncated' },
    { name: 'no-iend.png', bytes: png.subarray(0, png.length - 12), reason: 'truncated' },
    { name: 'cut-short.jpg', bytes: jpeg.subarray(0, Math.floor(jpeg.length * 0.6)), reason: 'truncated' },
    { name: 'no-eoi.jpg', bytes: jpeg.subarray(0, jpeg.length - 2), reason: 'truncated' },
    { name: 'cut-short.webp', bytes: webp.subarray(0, Math.floor(webp.length * 0.7)), reason: 'truncated' },
    { name: 'cut-short.tif', bytes: tiff.subarray(0, Math.floor(tiff.length * 0.7)), reason: 'truncated' },
    { name: 'cut-short.gif', bytes: gif.subarray(0, Math.floor(gif.length * 0.7)), reason: 'truncated' },
    { name: 'bad-crc.png', bytes: badCrc, reason: 'corrupt' },
    { name: 'garbage-idat.png', bytes: garbageIdat, reason: 'corrupt' },
    { name: 'bad-header.png', bytes: badHeader, reason: 'corrupt' },
    { name: 'scrambled.jpg', bytes: scrambled, reason: 'corrupt' },
    { name: 'bomb.png', bytes: bombPng, reason: 'decompression-bomb' },
    { name: 'bomb.jpg', bytes: bombJpeg, reason: 'decompression-bomb' },
    { name: 'tiny.png', bytes: pngOf(4, 4, 4), reason: 'too-small' },
  ];
}
