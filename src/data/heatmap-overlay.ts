/**
 * Grad-CAM overlays: a heatmap in [0, 1] upsampled bilinearly to the image, coloured with a
 * jet-like map and alpha-blended onto the image (scaled so small images are legible), as a PNG.
 */
import sharp from 'sharp';

export interface OverlayOptions {
  /** Longer side of the PNG in pixels; images are scaled up (nearest, so pixels stay crisp) or down to it. Defaults to 112. */
  size?: number;
  /** Weight of the heatmap colour over the image, in [0, 1]. Defaults to 0.45. */
  alpha?: number;
}

/**
 * Bilinear resampling of a row-major `height x width` map to `outHeight x outWidth`, with pixel
 * centres aligned (half-pixel offsets) and edges clamped, as image resizers do.
 */
export function resizeBilinear(map: Float32Array, height: number, width: number, outHeight: number, outWidth: number): Float32Array {
  if (map.length !== height * width) throw new RangeError(`heatmap has ${map.length} values, expected height x width = ${height} x ${width} = ${height * width}`);
  for (const [name, v] of [['height', height], ['width', width], ['outHeight', outHeight], ['outWidth', outWidth]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name} must be an integer >= 1, got ${v}`);
  }
  const out = new Float32Array(outHeight * outWidth);
  const sy = height / outHeight;
  const sx = width / outWidth;
  for (let y = 0; y < outHeight; y++) {
    const fy = Math.min(height - 1, Math.max(0, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(height - 1, y0 + 1);
    const wy = fy - y0;
    for (let x = 0; x < outWidth; x++) {
      const fx = Math.min(width - 1, Math.max(0, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(width - 1, x0 + 1);
      const wx = fx - x0;
      const top = (map[y0 * width + x0] as number) * (1 - wx) + (map[y0 * width + x1] as number) * wx;
      const bottom = (map[y1 * width + x0] as number) * (1 - wx) + (map[y1 * width + x1] as number) * wx;
      out[y * outWidth + x] = top * (1 - wy) + bottom * wy;
    }
  }
  return out;
}

/** Jet-like colour of v in [0, 1] (clamped): dark blue, blue, cyan, yellow, red, dark red. RGB 0-255. */
export function jetColour(v: number): [number, number, number] {
  const t = Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0));
  const channel = (centre: number) => Math.round(255 * Math.min(1, Math.max(0, 1.5 - Math.abs(4 * t - centre))));
  return [channel(3), channel(2), channel(1)];
}

/**
 * PNG of `pixels` (uint8 HWC, 1 or 3 channels, as in shards) with `heatmap` (row-major
 * `mapHeight x mapWidth`, values in [0, 1]) blended on top.
 */
export async function overlayHeatmapPng(
  pixels: Uint8Array,
  shape: readonly [number, number, number],
  heatmap: Float32Array,
  mapHeight: number,
  mapWidth: number,
  options: OverlayOptions = {},
): Promise<Buffer> {
  const [h, w, c] = shape;
  if (c !== 1 && c !== 3) throw new RangeError(`image channels must be 1 or 3, got ${c}`);
  if (pixels.length !== h * w * c) throw new RangeError(`image has ${pixels.length} bytes, expected height x width x channels = ${h * w * c}`);
  const size = options.size ?? 112;
  const alpha = options.alpha ?? 0.45;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`overlay size must be an integer >= 1, got ${size}`);
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`overlay alpha must be in [0, 1], got ${alpha}`);
  const scale = size / Math.max(h, w);
  const outW = Math.max(1, Math.round(w * scale));
  const outH = Math.max(1, Math.round(h * scale));
  const image = await sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), { raw: { width: w, height: h, channels: c } })
    .resize({ width: outW, height: outH, fit: 'fill', kernel: scale >= 1 ? 'nearest' : 'lanczos3' })
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const channels = image.info.channels;
  const heat = resizeBilinear(heatmap, mapHeight, mapWidth, outH, outW);
  const rgb = Buffer.alloc(outH * outW * 3);
  for (let p = 0; p < outH * outW; p++) {
    const colour = jetColour(heat[p] as number);
    for (let k = 0; k < 3; k++) {
      const base = image.data[p * channels + (channels === 1 ? 0 : k)] as number;
      rgb[p * 3 + k] = Math.round((1 - alpha) * base + alpha * colour[k]!);
    }
  }
  return sharp(rgb, { raw: { width: outW, height: outH, channels: 3 } }).png().toBuffer();
}
