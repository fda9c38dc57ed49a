/**
 * Channel conversions shared by both decode paths, so a PNG gives the same pixels whichever
 * decoder read it. Alpha is dropped, not composited, as torchvision's `convert('RGB')` does.
 */

/**
 * ITU-R BT.601 luma in 16-bit fixed point, the formula PIL uses for `convert('L')`, so grey
 * inputs match what Python pipelines feed the same model.
 */
export function luma(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
}

/**
 * Converts `pixels` interleaved 8-bit pixels from `from` channels (1 grey, 2 grey+alpha, 3 RGB,
 * 4 RGBA) to `to` channels (1 or 3), writing into `out` at `outOffset`.
 */
export function convertChannels(src: ArrayLike<number>, pixels: number, from: number, to: 1 | 3, out: Uint8Array, outOffset = 0): void {
  if (src.length < pixels * from) {
    throw new RangeError(`convertChannels: ${pixels} pixels of ${from} channels need ${pixels * from} samples, got ${src.length}`);
  }
  if (out.length < outOffset + pixels * to) {
    throw new RangeError(`convertChannels: output needs ${outOffset + pixels * to} bytes, has ${out.length}`);
  }
  let o = outOffset;
  if (to === 1) {
    if (from === 1 || from === 2) {
      for (let p = 0; p < pixels; p++) out[o++] = src[p * from] as number;
    } else if (from === 3 || from === 4) {
      for (let p = 0, s = 0; p < pixels; p++, s += from) {
        out[o++] = luma(src[s] as number, src[s + 1] as number, src[s + 2] as number);
      }
    } else {
      throw new RangeError(`convertChannels: source must have 1-4 channels, got ${from}`);
    }
    return;
  }
  if (from === 1 || from === 2) {
    for (let p = 0; p < pixels; p++) {
      const v = src[p * from] as number;
      out[o++] = v;
      out[o++] = v;
      out[o++] = v;
    }
  } else if (from === 3 || from === 4) {
    for (let p = 0, s = 0; p < pixels; p++, s += from) {
      out[o++] = src[s] as number;
      out[o++] = src[s + 1] as number;
      out[o++] = src[s + 2] as number;
    }
  } else {
    throw new RangeError(`convertChannels: source must have 1-4 channels, got ${from}`);
  }
}
