/**
 * Turns one encoded image (any format sharp reads) into the HWC uint8 tensor the engine trains
 * on. Small PNGs already at the target size take a pure-JS fast path; everything else goes
 * through sharp. Both paths share the channel conversion, so they agree on the same file.
 */
import sharp from 'sharp';
import { decodePngFast, fastPngEligible } from './png-fast-decode.js';
import { readPngInfo } from './png-info.js';
import { convertChannels } from './pixels.js';

export type ImageFit = 'fill' | 'contain' | 'cover';

export interface DecodeOptions {
  height: number;
  width: number;
  /** 1: grey (BT.601 luma of colour images). 3: RGB. Alpha is always dropped. */
  channels: 1 | 3;
  /**
   * How a source of another aspect ratio meets the target: 'fill' stretches, 'contain'
   * letterboxes on black, 'cover' crops the centre. Defaults to 'fill'.
   */
  fit?: ImageFit;
  /** Names the image (store key or path) in errors. */
  key?: string;
  /** 'auto' uses the fast path where it applies; 'sharp' forces sharp. Defaults to 'auto'. */
  decoder?: 'auto' | 'sharp';
}

/** An image that could not be decoded: bad input, not worth retrying. */
export class ImageDecodeError extends Error {
  constructor(
    readonly key: string,
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
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Which decoder `decodeToTensor` would use for these bytes; exported for benchmarks and tests. */
export function chooseDecoder(bytes: Uint8Array, options: DecodeOptions): 'fast-png' | 'sharp' {
  if (options.decoder === 'sharp') return 'sharp';
  const info = readPngInfo(bytes);
  return info && fastPngEligible(info, options.width, options.height) ? 'fast-png' : 'sharp';
}

async function decodeWithSharp(bytes: Uint8Array, options: DecodeOptions): Promise<Uint8Array> {
  const { width, height } = options;
  const { data, info } = await sharp(bytes)
    .rotate() // applies EXIF orientation, as photo viewers (and users' expectations) do
    .removeAlpha()
    .toColourspace('srgb')
    .resize({ width, height, fit: options.fit ?? 'fill', background: { r: 0, g: 0, b: 0 } })
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== width || info.height !== height) {
    throw new Error(`sharp produced ${info.width}x${info.height}, expected ${width}x${height}`);
  }
  const out = new Uint8Array(width * height * options.channels);
  convertChannels(data, width * height, info.channels, options.channels, out);
  return out;
}

/**
 * Decodes `bytes` to `height * width * channels` uint8 values, row-major HWC. EXIF orientation
 * is applied. Errors are `ImageDecodeError`s that name `options.key`.
 */
export async function decodeToTensor(bytes: Uint8Array, options: DecodeOptions): Promise<Uint8Array> {
  validateDecodeOptions(options);
  const key = options.key ?? '<image bytes>';
  if (bytes.length === 0) throw new ImageDecodeError(key, 'file is empty');
  const decoder = chooseDecoder(bytes, options);
  try {
    return decoder === 'fast-png' ? decodePngFast(bytes, options.channels) : await decodeWithSharp(bytes, options);
  } catch (err) {
    throw new ImageDecodeError(key, `cannot decode image (${decoder}): ${message(err)}`, { cause: err });
  }
}
