/**
 * Turns one encoded image into the HWC uint8 tensor the engine trains on, or says precisely why
 * it cannot (an `ImageDecodeError` with a quarantine reason).
 *
 * Every image is first identified by its magic bytes and its header read without decoding, so
 * empty files, non-images, truncated files and decompression bombs are refused before any pixel
 * buffer is allocated. Then it is normalised: EXIF orientation applied; grey, palette, CMYK and
 * 16-bit sources converted to 8-bit sRGB; a declared BGR channel order swapped to RGB; alpha
 * composited onto a background; the result resized to the model input with the chosen fit.
 *
 * Small PNGs take a JS fast path (png-fast-decode.ts) that reproduces sharp's output; PNGs of up
 * to 4M samples that the target shrinks are decoded and shrunk in JS too (`decodeShrinkPng`:
 * node:zlib, unfiltering and Pillow's BILINEAR resize in the SIMD module, within a few levels of
 * sharp's 'linear'), as sharp's fixed per-image cost outweighs their pixels; JPEGs that the target
 * shrinks are decoded by libjpeg-turbo's TurboJPEG at Pillow's draft scale (`decodeFastJpeg`)
 * and resized the same way; everything else goes through sharp. All paths end in the same
 * channel conversion. Embedded colour profiles: sRGB itself is left as is;
 * matrix/TRC and grey profiles are converted to sRGB in JS after the resize (icc-transform.ts,
 * within one level of lcms); any other goes through sharp's lcms before the resize.
 */
import { createHash } from 'node:crypto';
import { threadId } from 'node:worker_threads';
import { inflateSync } from 'node:zlib';
import sharp from 'sharp';
import { checkRiffLength, sniffImage, type ImageFormat } from './image-sniff.js';
import { inspectJpeg, type JpegInfo } from './jpeg-info.js';
import { dctScale, decodeTurboJpeg, turboJpegLibrary } from './turbojpeg.js';
import { prepareImageSimd } from './image-simd.js';
import { inspectTiff } from './tiff-info.js';
import { HeifConvertError, heifToPng } from './heif-convert.js';
import { iccTransformFor, type IccTransform } from './icc-transform.js';
import { decodePng, FastPathDeclined, fastPngEligible, PngDataError, pngShrinkEligible, SHRINK_PNG_REUSE_PIXELS } from './png-fast-decode.js';
import { resizeBilinear } from './decode-resize.js';
import { hasPngSignature, inspectPng, pngChannels, type PngHeader, type PngInfo } from './png-info.js';
import { applyOrientation, convertChannels, flattenAlpha, isGrey, reduce16To8, swapRedBlue, upsampleLikeSharp } from './pixels.js';

export type ImageFit = 'fill' | 'contain' | 'cover';

/** Why an image was quarantined. */
export type DecodeFailureReason = 'zero-byte' | 'unsupported-format' | 'truncated' | 'corrupt' | 'decompression-bomb' | 'too-small';

export const DECODE_FAILURE_REASONS: readonly DecodeFailureReason[] = [
  'zero-byte',
  'unsupported-format',
  'truncated',
  'corrupt',
  'decompression-bomb',
  'too-small',
];

export interface DecodeOptions {
  height: number;
  width: number;
  /** 1: grey (BT.601 luma of colour images). 3: RGB. */
  channels: 1 | 3;
  /**
   * How a source of another aspect ratio meets the target: 'fill' stretches, 'contain'
   * letterboxes on `background`, 'cover' crops the centre. Defaults to 'fill'.
   */
  fit?: ImageFit;
  /** Names the image (store key or path) in errors. */
  key?: string;
  /** 'auto' uses the fast path where it applies; 'sharp' forces sharp. Defaults to 'auto'. */
  decoder?: 'auto' | 'sharp';
  /** Channel order the source file stores: 'bgr' (OpenCV dumps) is swapped to RGB. Defaults to 'rgb'. */
  channelOrder?: 'rgb' | 'bgr';
  /** RGB colour alpha is composited onto, and the letterbox colour of 'contain'. Defaults to black. */
  background?: [number, number, number];
  /**
   * Decompression-bomb guard: a source whose header declares more pixels (width * height) is
   * refused before decoding. Defaults to 50,000,000.
   */
  maxPixels?: number;
  /** A source whose width or height is below this is refused as 'too-small'. Defaults to 1. */
  minSide?: number;
}

export const DEFAULT_MAX_PIXELS = 50_000_000;

/** What the source file is, from its header. */
export interface SourceImageInfo {
  format: ImageFormat;
  /** Stored width and height, before EXIF orientation is applied. */
  width: number;
  height: number;
  /** Channels as stored: 1 grey, 2 grey+alpha, 3 colour, 4 colour+alpha or CMYK (palettes count as 3 or 4). */
  channels: number;
  /** Bits per sample: 1-16 (8 for palettes). */
  bitDepth: number;
  hasAlpha: boolean;
  /** EXIF orientation 1-8, where the file declares one. */
  orientation?: number;
}

export interface DecodedImage {
  /** HWC uint8, `height * width * channels` values. */
  pixels: Uint8Array;
  source: SourceImageInfo;
}

/** An image that could not be decoded: bad input, not worth retrying. */
export class ImageDecodeError extends Error {
  constructor(
    readonly key: string,
    readonly reason: DecodeFailureReason,
    /** What went wrong, without the key. */
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${key}: ${detail}`, options);
    this.name = 'ImageDecodeError';
  }
}

const FITS: readonly ImageFit[] = ['fill', 'contain', 'cover'];

/** Throws a RangeError naming the bad field unless `options` describe a valid target. */
export function validateDecodeOptions(options: DecodeOptions): void {
  for (const field of ['height', 'width'] as const) {
    const value = options[field];
    if (!Number.isInteger(value) || value < 1 || value > 16384) {
      throw new RangeError(`decode ${field} must be an integer in [1, 16384], got ${String(value)}`);
    }
  }
  if (options.channels !== 1 && options.channels !== 3) {
    throw new RangeError(`decode channels must be 1 or 3, got ${String(options.channels)}`);
  }
  if (options.fit !== undefined && !FITS.includes(options.fit)) {
    throw new RangeError(`decode fit must be one of ${FITS.join(', ')}, got ${String(options.fit)}`);
  }
  if (options.channelOrder !== undefined && options.channelOrder !== 'rgb' && options.channelOrder !== 'bgr') {
    throw new RangeError(`decode channelOrder must be 'rgb' or 'bgr', got ${String(options.channelOrder)}`);
  }
  if (options.background !== undefined) {
    const bg = options.background as unknown;
    if (!Array.isArray(bg) || bg.length !== 3 || !bg.every((v) => Number.isInteger(v) && v >= 0 && v <= 255)) {
      throw new RangeError(`decode background must be three integers in [0, 255], got ${JSON.stringify(bg)}`);
    }
  }
  if (options.maxPixels !== undefined && !(Number.isInteger(options.maxPixels) && options.maxPixels >= 1)) {
    throw new RangeError(`decode maxPixels must be an integer >= 1, got ${String(options.maxPixels)}`);
  }
  if (options.minSide !== undefined && !(Number.isInteger(options.minSide) && options.minSide >= 1)) {
    throw new RangeError(`decode minSide must be an integer >= 1, got ${String(options.minSide)}`);
  }
}

const fmt = (n: number): string => n.toLocaleString('en-US');

const FORMAT_NAMES: Record<ImageFormat, string> = {
  png: 'PNG',
  jpeg: 'JPEG',
  webp: 'WebP',
  gif: 'GIF',
  tiff: 'TIFF',
  avif: 'AVIF',
  heif: 'HEIF',
};

/**
 * Options validated and resolved to their defaults (`resolveDecodeOptions`), so a batch of
 * images pays for validation once: `decodeResolved` and `decodeFastSync` take them.
 */
export interface ResolvedDecodeOptions {
  key: string;
  width: number;
  height: number;
  channels: 1 | 3;
  fit: ImageFit;
  bgr: boolean;
  background: [number, number, number];
  maxPixels: number;
  minSide: number;
  forceSharp: boolean;
}

type Resolved = ResolvedDecodeOptions;

/** Validates `options` (a RangeError naming the bad field) and resolves their defaults. */
export function resolveDecodeOptions(options: DecodeOptions): ResolvedDecodeOptions {
  validateDecodeOptions(options);
  return {
    key: options.key ?? '<image bytes>',
    width: options.width,
    height: options.height,
    channels: options.channels,
    fit: options.fit ?? 'fill',
    bgr: options.channelOrder === 'bgr',
    background: options.background ?? [0, 0, 0],
    maxPixels: options.maxPixels ?? DEFAULT_MAX_PIXELS,
    minSide: options.minSide ?? 1,
    forceSharp: options.decoder === 'sharp',
  };
}

/** Refuses sources that are too large (before any decoding) or too small. */
function checkSize(r: Resolved, width: number, height: number): void {
  const pixels = width * height;
  if (pixels > r.maxPixels) {
    throw new ImageDecodeError(r.key, 'decompression-bomb', `${width}x${height} = ${fmt(pixels)} pixels exceeds the ${fmt(r.maxPixels)}-pixel limit`);
  }
  if (Math.min(width, height) < r.minSide) {
    throw new ImageDecodeError(r.key, 'too-small', `${width}x${height} is smaller than the minimum side of ${fmt(r.minSide)} pixels`);
  }
}

/** libvips' message on one line, without libheif's repeated seek noise, at most 300 characters. */
function firstLines(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const joined = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !/^source: bad seek to \d+$/.test(l))
    .join('; ');
  return joined.length > 300 ? `${joined.slice(0, 297)}...` : joined;
}

/** Maps a sharp/libvips failure on image data to a quarantine reason. */
function sharpFailure(r: Resolved, format: ImageFormat, err: unknown): ImageDecodeError {
  const text = firstLines(err);
  let reason: DecodeFailureReason = 'corrupt';
  // "unsupported image format" is not matched: the magic bytes already said which format this
  // is, so libvips not recognising it means a broken header (or a cut-short TIFF), not a format.
  if (/exceeds pixel limit/i.test(text)) reason = 'decompression-bomb';
  else if (/unsupported (codec|feature|compression)|no decoder|not supported/i.test(text)) reason = 'unsupported-format';
  else if (/premature end|truncated|unexpected end|end of (stream|file|data)|not enough data|out of data/i.test(text)) reason = 'truncated';
  const what = reason === 'unsupported-format' ? `${FORMAT_NAMES[format]} variant not supported by this build` : `cannot decode ${FORMAT_NAMES[format]}`;
  return new ImageDecodeError(r.key, reason, `${what}: ${text}`, { cause: err });
}

function pngSource(h: PngHeader, info?: PngInfo): SourceImageInfo {
  const palette = h.colorType === 3;
  const hasAlpha = h.colorType === 4 || h.colorType === 6 || info?.trns !== undefined;
  const channels = palette ? (hasAlpha ? 4 : 3) : pngChannels(h.colorType) + (hasAlpha && h.colorType < 4 ? 1 : 0);
  return { format: 'png', width: h.width, height: h.height, channels, bitDepth: palette ? 8 : h.bitDepth, hasAlpha };
}

function jpegSource(info: JpegInfo): SourceImageInfo {
  const source: SourceImageInfo = { format: 'jpeg', width: info.width, height: info.height, channels: info.components, bitDepth: info.precision, hasAlpha: false };
  if (info.orientation !== undefined) source.orientation = info.orientation;
  return source;
}

const DEPTH_BITS: Record<string, number> = { uchar: 8, char: 8, ushort: 16, short: 16, uint: 32, int: 32, float: 32, double: 64, complex: 64, dpcomplex: 128 };

/** Header facts of a WebP/GIF/TIFF/AVIF/HEIF file, read by sharp without decoding pixels. */
async function sharpSource(r: Resolved, format: ImageFormat, bytes: Uint8Array): Promise<{ source: SourceImageInfo; colour: ProfilePlan; compression?: string }> {
  let meta: sharp.Metadata;
  try {
    // The pixel limit is checked below with a better message; metadata reads only the header.
    meta = await sharpCall(r, format, () => sharp(bytes, { limitInputPixels: false }).metadata());
  } catch (err) {
    throw sharpFailure(r, format, err);
  }
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  if (width < 1 || height < 1) throw new ImageDecodeError(r.key, 'corrupt', `${FORMAT_NAMES[format]} header declares a ${width}x${height} image`);
  const source: SourceImageInfo = {
    format,
    width,
    height,
    channels: meta.channels ?? 3,
    bitDepth: meta.bitsPerSample ?? DEPTH_BITS[meta.depth ?? 'uchar'] ?? 8,
    hasAlpha: meta.hasAlpha ?? false,
  };
  if (meta.orientation !== undefined) source.orientation = meta.orientation;
  return { source, colour: profilePlan(meta.icc), ...(meta.compression !== undefined ? { compression: meta.compression } : {}) };
}

/**
 * SHA-256 of the ICC profiles that are sRGB itself. Such an embedded profile is not applied
 * (sharp's `ignoreIcc`): sharp would convert sRGB to sRGB through lcms, which costs 2-4 ms per
 * photo (a transform at full resolution, before the resize) and changes nothing but rounding.
 * Measured on all 2^24 colours: the libvips profile converts to itself exactly; the HP one
 * changes 0.3% of samples by 1 level and none by more.
 */
const SRGB_PROFILES: ReadonlyMap<number, string> = new Map([
  // "sRGB IEC61966-2.1" (HP/Microsoft, ICC v2), the profile cameras and editors embed.
  [3144, '2b3aa1645779a9e634744faf9b01e9102b0c9b88fd6deced7934df86b949af7e'],
  // libvips' built-in sRGB, which sharp embeds (`withIccProfile('srgb')`).
  [480, 'c56e1685d888f5edb92fe07f2750f387f8fe8e91b32ff8fb0b56bfbbb9458353'],
]);

function isSrgbProfile(profile: Uint8Array): boolean {
  const digest = SRGB_PROFILES.get(profile.length);
  return digest !== undefined && createHash('sha256').update(profile).digest('hex') === digest;
}

/**
 * What the decode does with an image's embedded colour profile: nothing (none, or sRGB itself:
 * `SRGB_PROFILES`), convert it after the resize in JS (`transform`: a matrix/TRC or grey profile,
 * `iccTransformFor`), or leave it to sharp, which converts through lcms before the resize.
 */
interface ProfilePlan {
  srgbProfile: boolean;
  transform?: IccTransform;
}

const NO_PROFILE: ProfilePlan = { srgbProfile: false };

function profilePlan(profile: Uint8Array | undefined): ProfilePlan {
  if (!profile) return NO_PROFILE;
  if (isSrgbProfile(profile)) return { srgbProfile: true };
  const transform = iccTransformFor(profile);
  return transform ? { srgbProfile: false, transform } : NO_PROFILE;
}

/** The profile in a PNG's iCCP chunk; undefined when there is none or it does not inflate. */
function pngProfile(bytes: Uint8Array, info: PngInfo): Uint8Array | undefined {
  if (!info.iccp) return undefined;
  const [start, end] = info.iccp;
  // Profile name (1-79 bytes), NUL, compression method 0, then the zlib stream.
  const nul = bytes.subarray(start, Math.min(end, start + 80)).indexOf(0);
  if (nul < 1 || bytes[start + nul + 1] !== 0) return undefined;
  try {
    return inflateSync(bytes.subarray(start + nul + 2, end), { maxOutputLength: MAX_PROFILE_BYTES });
  } catch {
    return undefined; // damaged or larger than any profile read here: sharp decides as before
  }
}

/** Profiles are read up to this size; a larger one (lookup tables) is left to sharp. */
const MAX_PROFILE_BYTES = 1 << 20;

/** A JPEG's APP2 ICC segments joined in sequence order. */
function jpegProfile(bytes: Uint8Array, info: JpegInfo): Uint8Array | undefined {
  if (!info.icc) return undefined;
  const pieces = [...info.icc].sort((a, b) => a.seq - b.seq);
  const size = pieces.reduce((n, p) => n + p.range[1] - p.range[0], 0);
  if (size > MAX_PROFILE_BYTES) return undefined;
  const profile = new Uint8Array(size);
  let at = 0;
  for (const { range } of pieces) {
    profile.set(bytes.subarray(range[0], range[1]), at);
    at += range[1] - range[0];
  }
  return profile;
}

/**
 * Whether `plan`'s JS transform applies to this source: 8-bit, no alpha (flattening onto the
 * background happens before the resize, in sRGB), the profile's kind matching the channels, the
 * file in RGB order, and no coloured letterbox (it would be converted as if in the profile's space).
 */
function usesTransform(r: Resolved, plan: ProfilePlan, channels: number, bitDepth: number, hasAlpha: boolean): plan is ProfilePlan & { transform: IccTransform } {
  const t = plan.transform;
  if (!t || hasAlpha || bitDepth > 8 || r.bgr) return false;
  if (r.fit === 'contain' && (r.background[0] !== 0 || r.background[1] !== 0 || r.background[2] !== 0)) return false;
  return t.kind === 'rgb' ? channels === 3 : channels === 1;
}

/** The profile transform the decode applies in JS after the resize for this source, if any (`usesTransform`). */
function jsTransform(r: Resolved, colour: ProfilePlan, source: SourceImageInfo): IccTransform | undefined {
  return usesTransform(r, colour, source.channels, source.bitDepth, source.hasAlpha) ? colour.transform : undefined;
}

/** Where a decode writes its pixels: `out` from `offset`, or a new array when `out` is absent. */
interface Destination {
  out: Uint8Array | undefined;
  offset: number;
}

function target(r: Resolved, dest: Destination): { out: Uint8Array; offset: number } {
  const size = r.width * r.height * r.channels;
  if (!dest.out) return { out: new Uint8Array(size), offset: 0 };
  if (dest.offset < 0 || dest.offset + size > dest.out.length) {
    throw new RangeError(`decode output needs ${dest.offset + size} bytes, has ${dest.out.length}`);
  }
  return { out: dest.out, offset: dest.offset };
}

/** Converts 8-bit samples after flattening/resizing to the target channels, swapping BGR first. */
function toTarget(r: Resolved, data: Uint8Array, pixels: number, from: number, dest: Destination): Uint8Array {
  if (r.bgr) swapRedBlue(data, pixels, from);
  const { out, offset } = target(r, dest);
  convertChannels(data, pixels, from, r.channels, out, offset);
  return out;
}

/**
 * The fast path's normalisation of decoded 8-bit samples: BGR swap, alpha flattening, resize.
 * Mirrors the sharp pipeline (flatten, then resize) on per-channel operations that commute with
 * the swap, so both paths agree pixel for pixel. `data` may be scratch memory: it is copied
 * before being modified, and nothing keeps it.
 */
function finishSmall(r: Resolved, data: Uint8Array, width: number, height: number, channels: number, hasAlpha: boolean, dest: Destination): Uint8Array {
  let samples = data;
  let ch = channels;
  if (r.bgr && ch >= 3) {
    samples = Uint8Array.from(samples);
    swapRedBlue(samples, width * height, ch);
  }
  if (hasAlpha && (ch === 2 || ch === 4)) {
    const flat = flattenAlpha(samples, width * height, ch, r.background);
    samples = flat.data;
    ch = flat.channels;
  }
  const { out, offset } = target(r, dest);
  const pixels = r.width * r.height;
  if (r.width !== width || r.height !== height) {
    if (ch === r.channels) return upsampleLikeSharp(samples, width, height, ch, r.width, r.height, out, offset);
    samples = upsampleLikeSharp(samples, width, height, ch, r.width, r.height);
  }
  if (ch === r.channels) out.set(samples.subarray(0, pixels * ch), offset);
  else convertChannels(samples, pixels, ch, r.channels, out, offset);
  return out;
}

/** Decodes a PNG on the fast path; undefined when it declines (sharp then decodes it). */
function decodeFastPng(r: Resolved, bytes: Uint8Array, info: PngInfo, dest: Destination): Uint8Array | undefined {
  let png;
  try {
    png = decodePng(bytes, info, true);
  } catch (err) {
    if (err instanceof FastPathDeclined) return undefined;
    if (err instanceof PngDataError) throw new ImageDecodeError(r.key, err.reason, err.message, { cause: err });
    throw err;
  }
  const pixels = png.width * png.height;
  const data = png.data instanceof Uint16Array ? reduce16To8(png.data, pixels, png.channels, png.hasAlpha) : png.data;
  return finishSmall(r, data, png.width, png.height, png.channels, png.hasAlpha, dest);
}

/**
 * Decodes and shrinks a PNG in JS (`pngShrinkEligible`): inflate (node:zlib), unfilter, flatten
 * alpha (onto the background in the file's channel order), `resizeBilinear`, then the channel
 * conversion. Undefined when the decoder declines (sharp then decodes it).
 */
function decodeShrinkPng(r: Resolved, bytes: Uint8Array, info: PngInfo, dest: Destination, transform?: IccTransform): Uint8Array | undefined {
  let png;
  try {
    png = decodePng(bytes, info, info.width * info.height <= SHRINK_PNG_REUSE_PIXELS);
  } catch (err) {
    if (err instanceof FastPathDeclined) return undefined;
    if (err instanceof PngDataError) throw new ImageDecodeError(r.key, err.reason, err.message, { cause: err });
    throw err;
  }
  const sourcePixels = png.width * png.height;
  let samples = png.data instanceof Uint16Array ? reduce16To8(png.data, sourcePixels, png.channels, png.hasAlpha) : png.data;
  let ch: number = png.channels;
  if (png.hasAlpha && (ch === 2 || ch === 4)) {
    const [red, green, blue] = r.background;
    const flat = flattenAlpha(samples, sourcePixels, ch, r.bgr ? [blue, green, red] : r.background);
    samples = flat.data;
    ch = flat.channels;
  }
  return resizeToTarget(r, samples, png.width, png.height, ch, dest, transform);
}

/**
 * The JS paths' shared end: `resizeBilinear` of `samples` (`width` x `height`, `ch` channels, no
 * alpha) to the target, the JS colour conversion (`transform`), then the channel conversion.
 */
function resizeToTarget(r: Resolved, samples: Uint8Array, width: number, height: number, ch: number, dest: Destination, transform?: IccTransform): Uint8Array {
  const pixels = r.width * r.height;
  if (ch === r.channels && !r.bgr) {
    const { out, offset } = target(r, dest);
    resizeBilinear(samples, width, height, ch, r.width, r.height, out, offset);
    transform?.apply(out.subarray(offset, offset + pixels * ch), pixels, ch);
    return out;
  }
  const resized = resizeBilinear(samples, width, height, ch, r.width, r.height, new Uint8Array(pixels * ch));
  transform?.apply(resized, pixels, ch);
  return toTarget(r, resized, pixels, ch, dest);
}

/**
 * Whether a JPEG is decoded by TurboJPEG and resized in JS (`decodeFastJpeg`) instead of by
 * sharp: 8-bit grey or YCbCr/RGB (not CMYK), no colour profile the decoder cannot handle
 * (`profileHandled`, as for PNGs), 'fill' or a target of the displayed aspect ratio, and a target
 * smaller than the displayed image along at least one axis (enlargements keep sharp's bicubic).
 */
function jpegFastEligible(info: JpegInfo, r: Resolved, profileHandled: boolean): boolean {
  if (r.forceSharp || info.precision !== 8 || (info.components !== 1 && info.components !== 3)) return false;
  if (info.icc !== undefined && !profileHandled) return false;
  const { width, height } = displaySize(info);
  if (r.fit !== 'fill' && r.width * height !== r.height * width) return false;
  return r.width < width || r.height < height;
}

/** An image's size as displayed: EXIF orientations 5-8 swap its axes. */
function displaySize(info: { width: number; height: number; orientation?: number }): { width: number; height: number } {
  const swapped = (info.orientation ?? 1) >= 5;
  return swapped ? { width: info.height, height: info.width } : { width: info.width, height: info.height };
}

/**
 * Decodes a JPEG with TurboJPEG at the DCT scale that leaves it at least the target's size
 * (`dctScale`, Pillow's draft), turns it as its EXIF orientation says, then `resizeToTarget`. Undefined when TurboJPEG is missing or
 * declines the file (any libjpeg warning): sharp then decodes it, and names what is wrong.
 */
function decodeFastJpeg(r: Resolved, bytes: Uint8Array, info: JpegInfo, dest: Destination, transform?: IccTransform): Uint8Array | undefined {
  const display = displaySize(info);
  const scale = dctScale(display.width, display.height, r.width, r.height);
  const channels = info.components === 1 ? 1 : 3;
  // Into the thread's scratch: the orientation and the resize copy what they read.
  const decoded = decodeTurboJpeg(bytes, info.width, info.height, scale, channels, true);
  if (decoded === undefined) return undefined;
  const orientation = info.orientation ?? 1;
  // EXIF orientation, applied before the resize as sharp's rotate() is.
  const shown = orientation === 1 ? decoded : applyOrientation(decoded.data, decoded.width, decoded.height, channels, orientation);
  return resizeToTarget(r, shown.data, shown.width, shown.height, channels, dest, transform);
}

function sharpColour(c: readonly [number, number, number], bgr: boolean): { r: number; g: number; b: number; alpha: number } {
  return bgr ? { r: c[2], g: c[1], b: c[0], alpha: 1 } : { r: c[0], g: c[1], b: c[2], alpha: 1 };
}

/**
 * Whether resizing an image of `width` x `height` (as displayed, after EXIF orientation) to the
 * target shrinks it along either axis, with the scale each fit applies.
 */
function shrinks(r: Resolved, width: number, height: number): boolean {
  const sx = r.width / width;
  const sy = r.height / height;
  if (r.fit === 'fill') return sx < 1 || sy < 1;
  return (r.fit === 'contain' ? Math.min(sx, sy) : Math.max(sx, sy)) < 1;
}

/**
 * The sharp pipeline after orientation: flatten onto the background and resize. The file's own
 * channel order is kept through sharp (so the background is given in that order) and swapped
 * afterwards. Grey sources meet a coloured background in sRGB, or it would turn grey.
 *
 * Kernel: shrinking uses 'linear' (a triangle filter widened by the shrink factor, so still
 * anti-aliased; what Pillow's BILINEAR does when shrinking), enlarging keeps sharp's default
 * (lanczos3, which enlarges by bicubic interpolation: the fast PNG path reproduces it exactly).
 * Shrinking a 512x512 photo to 224x224 costs ~0.5-1 ms less than with lanczos3 (12-15% of the
 * decode), and the model input hardly differs: both are anti-aliased reductions.
 */
function flattenAndResize(r: Resolved, image: sharp.Sharp, greySource: boolean, hasAlpha: boolean, shrinking: boolean): sharp.Sharp {
  const colour = sharpColour(r.background, r.bgr);
  if (greySource && !isGrey(r.background)) image.pipelineColourspace('srgb');
  if (hasAlpha) image.flatten({ background: colour });
  const kernel = shrinking ? sharp.kernel.linear : sharp.kernel.lanczos3;
  // The background only shows in 'contain' letterboxing; sharp parses a colour on every call.
  const resize: sharp.ResizeOptions = { width: r.width, height: r.height, fit: r.fit, kernel };
  if (r.fit === 'contain') resize.background = colour;
  return image.resize(resize).toColourspace('srgb').raw();
}

/** Runs the pipeline `build` makes (again, alone in the process, if it fails: `sharpCall`). */
async function runSharp(r: Resolved, format: ImageFormat, build: () => sharp.Sharp): Promise<{ data: Buffer; info: sharp.OutputInfo }> {
  try {
    return await sharpCall(r, format, () => build().toBuffer({ resolveWithObject: true }));
  } catch (err) {
    throw sharpFailure(r, format, err);
  }
}

/**
 * The lock that keeps a failed sharp call's error its own. libvips keeps ONE error buffer per
 * process, which sharp reads and clears after a failure: when two calls fail at once (worker
 * threads, or several images in flight on one thread), one reads both messages and the other
 * only sharp's generic "Warning treated as error due to failOn setting", so a bad image's detail,
 * and at times its reason, depended on what ran beside it. So every sharp call holds the lock
 * shared, and a call that fails runs once more holding it exclusively, alone in the process; its
 * error is reported.
 *
 * The lock lives in a SharedArrayBuffer that `DecodePool` hands to its workers (`sharpLockBuffer`
 * / `useSharpLock`), as Int32 slots: [0] the exclusive holder (its thread slot + 1, 0 for none),
 * [1] a counter bumped at every release (what waiters wait on), then shared holds per thread
 * (slot `threadId % LOCK_THREAD_SLOTS`). A worker that dies holding the lock is cleared by its
 * pool (`releaseSharpLockOf`); waits are bounded besides (`LOCK_PATIENCE_MS`), then the call runs.
 */
const LOCK_THREAD_SLOTS = 62;
const EXCLUSIVE = 0;
const RELEASES = 1;
const FIRST_SLOT = 2;
const LOCK_PATIENCE_MS = 5000;
let sharpLock = new Int32Array(new SharedArrayBuffer(4 * (FIRST_SLOT + LOCK_THREAD_SLOTS)));
const mySlot = FIRST_SLOT + (threadId % LOCK_THREAD_SLOTS);

/** This thread's sharp lock, to hand to worker threads that decode too. */
export function sharpLockBuffer(): SharedArrayBuffer {
  return sharpLock.buffer as SharedArrayBuffer;
}

/** Makes this (worker) thread use the sharp lock of the thread that started it. */
export function useSharpLock(buffer: SharedArrayBuffer): void {
  sharpLock = new Int32Array(buffer);
}

/** Clears what thread `id` (a worker that has exited) held of the sharp lock in `buffer`. */
export function releaseSharpLockOf(buffer: SharedArrayBuffer, id: number): void {
  const lock = new Int32Array(buffer);
  const slot = FIRST_SLOT + (id % LOCK_THREAD_SLOTS);
  Atomics.store(lock, slot, 0);
  Atomics.compareExchange(lock, EXCLUSIVE, slot + 1, 0);
  Atomics.add(lock, RELEASES, 1);
  Atomics.notify(lock, RELEASES);
  Atomics.notify(lock, EXCLUSIVE);
}

/** `Atomics.waitAsync` (Node >= 16), which the ES2022 library typings lack. */
const waitAsync = (Atomics as unknown as {
  waitAsync(array: Int32Array, index: number, value: number, timeout: number): { async: false; value: string } | { async: true; value: Promise<string> };
}).waitAsync;

/** Waits until slot `index` may no longer hold `value` (a notification or `timeout` ms). */
async function waitWhile(index: number, value: number, timeout: number): Promise<void> {
  const wait = waitAsync(sharpLock, index, value, timeout);
  if (wait.async) await wait.value;
}

function released(): void {
  Atomics.add(sharpLock, RELEASES, 1);
  Atomics.notify(sharpLock, RELEASES);
}

async function acquireShared(): Promise<void> {
  const deadline = Date.now() + LOCK_PATIENCE_MS;
  for (;;) {
    const holder = Atomics.load(sharpLock, EXCLUSIVE);
    if (holder === 0) {
      Atomics.add(sharpLock, mySlot, 1);
      if (Atomics.load(sharpLock, EXCLUSIVE) === 0) return;
      // An exclusive claimant came in between: step back so the shared holds can drain.
      releaseShared();
      continue;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      Atomics.add(sharpLock, mySlot, 1);
      return;
    }
    await waitWhile(EXCLUSIVE, holder, left);
  }
}

function releaseShared(): void {
  Atomics.sub(sharpLock, mySlot, 1);
  released();
}

function sharedHolds(): boolean {
  for (let slot = FIRST_SLOT; slot < sharpLock.length; slot++) if (Atomics.load(sharpLock, slot) > 0) return true;
  return false;
}

/** True once held alone; false when the wait ran out (the call then runs anyway). */
async function acquireExclusive(): Promise<boolean> {
  const deadline = Date.now() + LOCK_PATIENCE_MS;
  for (;;) {
    const holder = Atomics.compareExchange(sharpLock, EXCLUSIVE, 0, mySlot + 1);
    if (holder === 0) break;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    await waitWhile(EXCLUSIVE, holder, left);
  }
  for (;;) {
    const releases = Atomics.load(sharpLock, RELEASES);
    const left = deadline - Date.now();
    if (!sharedHolds() || left <= 0) return true;
    await waitWhile(RELEASES, releases, left);
  }
}

function releaseExclusive(): void {
  Atomics.store(sharpLock, EXCLUSIVE, 0);
  Atomics.notify(sharpLock, EXCLUSIVE);
  released();
}

/**
 * Runs one sharp call under the lock: shared first; if it fails, once more alone in the process
 * (exclusive), and that run's outcome stands. Bad images are rare, so the second run is too.
 */
async function sharpCall<T>(r: Resolved, format: ImageFormat, call: () => Promise<T>): Promise<T> {
  await acquireShared();
  try {
    return await call();
  } catch {
    // Run again below, alone, so the error read is this call's own.
  } finally {
    releaseShared();
  }
  const exclusive = await acquireExclusive();
  try {
    return await call();
  } finally {
    if (exclusive) releaseExclusive();
  }
}

function sharpInput(r: Resolved, bytes: Uint8Array, ignoreIcc: boolean): sharp.Sharp {
  // failOn 'warning' is the strictest level: libjpeg reports scrambled scan data ("Corrupt JPEG
  // data: bad Huffman code") only as a warning, and 'truncated'/'error' decode such files to
  // garbage without complaint.
  return sharp(bytes, { failOn: 'warning', limitInputPixels: r.maxPixels, ignoreIcc });
}

async function decodeWithSharp(r: Resolved, format: ImageFormat, bytes: Uint8Array, source: SourceImageInfo, colour: ProfilePlan, dest: Destination): Promise<Uint8Array> {
  const greySource = source.channels <= 2;
  // A profile converted in JS after the resize is not applied by sharp.
  const transform = jsTransform(r, colour, source);
  const ignoreIcc = colour.srgbProfile || transform !== undefined;
  const shown = displaySize(source);
  const shrinking = shrinks(r, shown.width, shown.height);
  let output: { data: Buffer; info: sharp.OutputInfo };
  if (source.bitDepth === 16) {
    // Two steps, so 16-bit samples are reduced by `reduce16To8` (sharp keeps the high byte).
    const wide = await runSharp(r, format, () => sharpInput(r, bytes, ignoreIcc).rotate().toColourspace(greySource ? 'grey16' : 'rgb16').raw({ depth: 'ushort' }));
    const { width, height, channels } = wide.info;
    const aligned = wide.data.byteOffset % 2 === 0 ? wide.data : Buffer.from(wide.data);
    const samples = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.length / 2);
    const hasAlpha = channels === 2 || channels === 4;
    const narrow = reduce16To8(samples, width * height, channels, hasAlpha);
    const raw = (): sharp.Sharp => sharp(narrow, { raw: { width, height, channels: channels as 1 | 2 | 3 | 4 } });
    output = await runSharp(r, format, () => flattenAndResize(r, raw(), greySource, hasAlpha, shrinks(r, width, height)));
  } else {
    output = await runSharp(r, format, () => flattenAndResize(r, sharpInput(r, bytes, ignoreIcc).rotate(), greySource, source.hasAlpha, shrinking));
  }
  const { data, info } = output;
  if (info.width !== r.width || info.height !== r.height) {
    throw new Error(`sharp produced ${info.width}x${info.height}, expected ${r.width}x${r.height}`);
  }
  let samples: Uint8Array = data;
  let from: number = info.channels;
  if (transform) transform.apply(samples, r.width * r.height, from);
  if (from === 2 || from === 4) {
    // An alpha channel the header did not announce: flatten it here, still in file order.
    const [red, green, blue] = r.background;
    const flat = flattenAlpha(samples, r.width * r.height, from, r.bgr ? [blue, green, red] : r.background);
    samples = flat.data;
    from = flat.channels;
  }
  return toTarget(r, samples, r.width * r.height, from, dest);
}

/**
 * Decodes `bytes` to `height * width * channels` uint8 values (row-major HWC) and describes the
 * source. Bad images throw an `ImageDecodeError` naming `options.key` with a quarantine reason;
 * invalid options throw a RangeError; anything else is a bug and propagates as is.
 */
export async function decodeImage(bytes: Uint8Array, options: DecodeOptions): Promise<DecodedImage> {
  return decodeResolved(bytes, resolveDecodeOptions(options));
}

/**
 * What `decodeImage` reads synchronously before any pixel is decoded: the format, the header
 * checks (an `ImageDecodeError` for a bad image) and, where the fast path applies, the pixels.
 */
type SyncStep =
  | { done: true; pixels: Uint8Array; source: SourceImageInfo }
  | { done: false; format: ImageFormat; source?: SourceImageInfo; colour?: ProfilePlan };

function decodeSyncStep(bytes: Uint8Array, r: Resolved, dest: Destination): SyncStep {
  if (bytes.length === 0) throw new ImageDecodeError(r.key, 'zero-byte', 'file is empty (0 bytes)');
  const sniff = sniffImage(bytes);
  if (sniff.format === undefined) {
    throw new ImageDecodeError(r.key, 'unsupported-format', `not a JPEG, PNG, WebP, GIF, TIFF, AVIF or HEIF image: ${sniff.looksLike}`);
  }
  const format = sniff.format;
  if (format === 'png') {
    const png = inspectPng(bytes);
    const header = png.ok ? png.info : png.header;
    if (header) checkSize(r, header.width, header.height);
    if (!png.ok) throw new ImageDecodeError(r.key, png.reason, png.detail);
    const source = pngSource(png.info, png.info);
    if (!r.forceSharp && fastPngEligible(png.info, r)) {
      const pixels = decodeFastPng(r, bytes, png.info, dest);
      if (pixels) return { done: true, pixels, source };
    }
    const colour = profilePlan(pngProfile(bytes, png.info));
    const transform = jsTransform(r, colour, source);
    if (!r.forceSharp && pngShrinkEligible(png.info, r, colour.srgbProfile || transform !== undefined)) {
      const pixels = decodeShrinkPng(r, bytes, png.info, dest, transform);
      if (pixels) return { done: true, pixels, source };
    }
    return { done: false, format, source, colour };
  }
  if (format === 'jpeg') {
    const jpeg = inspectJpeg(bytes);
    const header = jpeg.info;
    if (header) checkSize(r, header.width, header.height);
    if (!jpeg.ok) throw new ImageDecodeError(r.key, jpeg.reason, jpeg.detail);
    const source = jpegSource(jpeg.info);
    const colour = profilePlan(jpegProfile(bytes, jpeg.info));
    const transform = jsTransform(r, colour, source);
    if (jpegFastEligible(jpeg.info, r, colour.srgbProfile || transform !== undefined)) {
      const pixels = decodeFastJpeg(r, bytes, jpeg.info, dest, transform);
      if (pixels) return { done: true, pixels, source };
    }
    return { done: false, format, source, colour };
  }
  if (format === 'webp') {
    const short = checkRiffLength(bytes);
    if (short) throw new ImageDecodeError(r.key, 'truncated', short);
  }
  if (format === 'tiff') {
    const tiff = inspectTiff(bytes);
    const header = tiff?.ok ? tiff : tiff?.header;
    if (header) checkSize(r, header.width, header.height);
    if (tiff && !tiff.ok) throw new ImageDecodeError(r.key, tiff.reason, tiff.detail);
  }
  return { done: false, format };
}

/** The image's own bytes: all of a new array, or its range of the caller's `out`. */
function imageView(r: Resolved, written: Uint8Array, out: Uint8Array | undefined, offset: number): Uint8Array {
  return out ? written.subarray(offset, offset + r.width * r.height * r.channels) : written;
}

/**
 * `decodeImage` with options already resolved (`resolveDecodeOptions`), writing the pixels into
 * `out` at `offset` when given (the returned `pixels` is then a view of that range). Returns the
 * image itself when the header checks and the fast PNG path settle it synchronously, so batch
 * decoders skip a promise per small image; else a promise. A bad image found before decoding
 * throws its `ImageDecodeError` synchronously; one found by sharp rejects.
 */
export function startDecode(bytes: Uint8Array, r: ResolvedDecodeOptions, out?: Uint8Array, offset = 0): DecodedImage | Promise<DecodedImage> {
  const dest: Destination = { out, offset };
  const step = decodeSyncStep(bytes, r, dest);
  if (step.done) return { pixels: imageView(r, step.pixels, out, offset), source: step.source };
  return finishWithSharp(r, step, bytes, dest);
}

async function finishWithSharp(r: Resolved, step: Extract<SyncStep, { done: false }>, bytes: Uint8Array, dest: Destination): Promise<DecodedImage> {
  let { source, colour = NO_PROFILE } = step;
  if (!source) {
    let compression: string | undefined;
    ({ source, colour, compression } = await sharpSource(r, step.format, bytes));
    checkSize(r, source.width, source.height);
    // HEIC: sharp's libvips has no HEVC decoder, so libheif's heif-convert makes a PNG of it.
    if (step.format === 'heif' && compression === 'hevc') return decodeHevcHeif(r, bytes, source, dest);
  }
  const pixels = await decodeWithSharp(r, step.format, bytes, source, colour, dest);
  return { pixels: imageView(r, pixels, dest.out, dest.offset), source };
}

async function decodeHevcHeif(r: Resolved, bytes: Uint8Array, source: SourceImageInfo, dest: Destination): Promise<DecodedImage> {
  let png: Uint8Array;
  try {
    png = await heifToPng(bytes);
  } catch (err) {
    if (err instanceof HeifConvertError) throw new ImageDecodeError(r.key, err.missing ? 'unsupported-format' : 'corrupt', err.message);
    throw err;
  }
  const decoded = await startDecode(png, r, dest.out, dest.offset);
  // heif-convert applied the HEIF's own rotation and mirroring; no orientation is left to apply.
  const { orientation: _applied, ...oriented } = source;
  return { pixels: decoded.pixels, source: oriented };
}

/** `startDecode` as a promise: `decodeImage` with resolved options and an optional destination. */
export async function decodeResolved(bytes: Uint8Array, r: ResolvedDecodeOptions, out?: Uint8Array, offset = 0): Promise<DecodedImage> {
  // The JS paths' SIMD kernels: built once per thread, so every decode after the first uses them.
  await prepareImageSimd();
  return startDecode(bytes, r, out, offset);
}

/**
 * Which decoder `decodeImage` would use for these bytes: 'fast-png' for the JS PNG paths (small
 * images kept or enlarged, `fastPngEligible`; images shrunk, `pngShrinkEligible`), 'turbojpeg'
 * for JPEGs TurboJPEG decodes (`jpegFastEligible`, when the library loads), else 'sharp'. The
 * first two run synchronously on the calling thread; sharp runs on libuv's threads. Exported for
 * batch decoders, benchmarks and tests.
 */
export function chooseDecoder(bytes: Uint8Array, options: DecodeOptions): 'fast-png' | 'turbojpeg' | 'sharp' {
  if (options.decoder === 'sharp') return 'sharp';
  const r = resolveDecodeOptions(options);
  if (!hasPngSignature(bytes)) {
    if (sniffImage(bytes).format !== 'jpeg') return 'sharp';
    const jpeg = inspectJpeg(bytes);
    if (!jpeg.ok) return 'sharp';
    const source = jpegSource(jpeg.info);
    const colour = profilePlan(jpegProfile(bytes, jpeg.info));
    const handled = colour.srgbProfile || jsTransform(r, colour, source) !== undefined;
    return jpegFastEligible(jpeg.info, r, handled) && turboJpegLibrary() !== undefined ? 'turbojpeg' : 'sharp';
  }
  const png = inspectPng(bytes);
  if (!png.ok) return 'sharp';
  if (fastPngEligible(png.info, options)) return 'fast-png';
  const colour = profilePlan(pngProfile(bytes, png.info));
  const source = pngSource(png.info, png.info);
  const handled = colour.srgbProfile || jsTransform(r, colour, source) !== undefined;
  return pngShrinkEligible(png.info, options, handled) ? 'fast-png' : 'sharp';
}

/**
 * Decodes `bytes` to `height * width * channels` uint8 values, row-major HWC: `decodeImage`
 * without the source description.
 */
export async function decodeToTensor(bytes: Uint8Array, options: DecodeOptions): Promise<Uint8Array> {
  return (await decodeImage(bytes, options)).pixels;
}
