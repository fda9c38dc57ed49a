/**
 * The pure-JS PNG path. For tiny images (MNIST is 28x28) sharp's per-image setup costs far more
 * than the pixels, and fast-png decodes several times faster; it is only used where it gives
 * the same pixels as sharp would (see `fastPngEligible`).
 */
import { convertIndexedToRgb, decode } from 'fast-png';
import { convertChannels } from './pixels.js';
import type { PngInfo } from './png-info.js';

/**
 * Above this many pixels sharp wins even on one thread: measured serially on RGB PNGs, fast-png
 * was 2.8x faster at 128x128 and 0.65x at 256x256 (bench/data-prep.ts prints the small case).
 */
export const FAST_PNG_MAX_PIXELS = 128 * 128;

/**
 * Whether the fast path gives what sharp would for this PNG at this target size. Resizing,
 * colour profiles and EXIF orientation stay with sharp, so a dataset that mixes sizes gets one
 * resampling kernel and one colour handling for every image.
 */
export function fastPngEligible(info: PngInfo, width: number, height: number): boolean {
  if (info.width !== width || info.height !== height) return false;
  if (info.width * info.height > FAST_PNG_MAX_PIXELS) return false;
  if (info.chunks.has('iCCP') || info.chunks.has('eXIf')) return false;
  // Sub-byte grey packs several pixels per byte; rare enough to leave to sharp.
  return info.colorType === 3 || info.bitDepth === 8 || info.bitDepth === 16;
}

/** Decodes a PNG that passed `fastPngEligible` to HWC uint8 with `channels` channels. */
export function decodePngFast(bytes: Uint8Array, channels: 1 | 3): Uint8Array {
  // CRC checks cost ~12% but catch damaged files: fflate does not verify zlib's adler32.
  const png = decode(bytes, { checkCrc: true });
  const pixels = png.width * png.height;
  let samples: ArrayLike<number>;
  let from: number;
  if (png.palette) {
    samples = convertIndexedToRgb(png);
    from = png.palette[0]?.length ?? 3;
  } else if (png.depth === 16) {
    // Keeping the high byte is what sharp/libvips does for 16-bit PNGs.
    const wide = png.data;
    const narrow = new Uint8Array(wide.length);
    for (let i = 0; i < wide.length; i++) narrow[i] = (wide[i] as number) >> 8;
    samples = narrow;
    from = png.channels;
  } else if (png.depth === 8) {
    samples = png.data;
    from = png.channels;
  } else {
    throw new Error(`fast PNG path does not handle ${png.depth}-bit non-palette images`);
  }
  const out = new Uint8Array(pixels * channels);
  convertChannels(samples, pixels, from, channels, out);
  return out;
}
