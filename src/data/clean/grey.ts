/**
 * Shared argument checks and the grey conversion for the cleaning algorithms.
 */
import { convertChannels } from '../pixels.js';

/** Throws a RangeError unless `pixels` holds `height * width * channels` samples of 1 or 3 channels. */
export function checkImage(fn: string, pixels: Uint8Array, height: number, width: number, channels: number): void {
  if (!Number.isInteger(height) || height < 1) throw new RangeError(`${fn}: height must be an integer >= 1, got ${String(height)}`);
  if (!Number.isInteger(width) || width < 1) throw new RangeError(`${fn}: width must be an integer >= 1, got ${String(width)}`);
  if (channels !== 1 && channels !== 3) throw new RangeError(`${fn}: channels must be 1 or 3, got ${String(channels)}`);
  const expected = height * width * channels;
  if (pixels.length !== expected) {
    throw new RangeError(`${fn}: pixels must hold height*width*channels = ${height}*${width}*${channels} = ${expected} samples, got ${pixels.length}`);
  }
}

/**
 * HWC pixels as one grey byte per pixel: grey images as they are, RGB through BT.601 luma rounded
 * like PIL's `convert('L')` (the decoder's own formula).
 */
export function toGrey(pixels: Uint8Array, height: number, width: number, channels: number): Uint8Array {
  if (channels === 1) return pixels;
  const grey = new Uint8Array(height * width);
  convertChannels(pixels, height * width, channels, 1, grey);
  return grey;
}
