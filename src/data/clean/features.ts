/**
 * Cheap per-image statistics for outlier detection: sharpness, exposure, information content and
 * the source file's geometry and size. Blank, blown-out, noisy or oddly encoded images stand out
 * in one or more of them.
 */
import { checkImage, toGrey } from './grey.js';

export interface ImageFeatures {
  /** Variance of the 3x3 Laplacian (4-neighbour) over the grey image's interior: low = blurry or flat. */
  blur: number;
  /** Mean grey level, 0-255. */
  brightness: number;
  /** Standard deviation of the grey levels (population). */
  contrast: number;
  /** Shannon entropy of the 256-bin grey histogram, in bits (0 for a flat image, at most 8). */
  entropy: number;
  /** Width of the source image before it was resized to the model's input. */
  width: number;
  /** Height of the source image before it was resized to the model's input. */
  height: number;
  /** Size of the encoded source file in bytes. */
  bytes: number;
}

/** The fields of ImageFeatures, in a fixed order. */
export const FEATURE_NAMES: readonly (keyof ImageFeatures)[] = ['blur', 'brightness', 'contrast', 'entropy', 'width', 'height', 'bytes'];

/**
 * The features of a decoded HWC uint8 image (`channels` 1 or 3; grey by BT.601 luma) and of its
 * `source` file. Images under 3x3 have no Laplacian interior and get blur 0.
 */
export function imageFeatures(
  pixels: Uint8Array,
  height: number,
  width: number,
  channels: number,
  source: { width: number; height: number; bytes: number },
): ImageFeatures {
  checkImage('imageFeatures', pixels, height, width, channels);
  for (const key of ['width', 'height'] as const) {
    const value = source[key];
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`imageFeatures: source.${key} must be an integer >= 1, got ${String(value)}`);
  }
  if (!Number.isInteger(source.bytes) || source.bytes < 0) {
    throw new RangeError(`imageFeatures: source.bytes must be an integer >= 0, got ${String(source.bytes)}`);
  }
  const grey = toGrey(pixels, height, width, channels);
  const count = height * width;

  const histogram = new Float64Array(256);
  let sum = 0;
  for (let i = 0; i < count; i++) {
    const v = grey[i] as number;
    histogram[v] = (histogram[v] as number) + 1;
    sum += v;
  }
  const brightness = sum / count;
  let squares = 0;
  let entropy = 0;
  for (let v = 0; v < 256; v++) {
    const h = histogram[v] as number;
    if (h === 0) continue;
    squares += h * (v - brightness) * (v - brightness);
    const p = h / count;
    entropy -= p * Math.log2(p);
  }
  const contrast = Math.sqrt(squares / count);

  let blur = 0;
  if (height >= 3 && width >= 3) {
    // Two passes over the interior (mean, then squared deviations): exact for integer responses.
    const interior = (height - 2) * (width - 2);
    let lapSum = 0;
    for (let y = 1; y < height - 1; y++) {
      for (let x = 1; x < width - 1; x++) {
        const i = y * width + x;
        lapSum += (grey[i - width] as number) + (grey[i + width] as number) + (grey[i - 1] as number) + (grey[i + 1] as number) - 4 * (grey[i] as number);
      }
    }
    const lapMean = lapSum / interior;
    let lapSquares = 0;
    for (let y = 1; y < height - 1; y++) {
      for (let x = 1; x < width - 1; x++) {
        const i = y * width + x;
        const d = (grey[i - width] as number) + (grey[i + width] as number) + (grey[i - 1] as number) + (grey[i + 1] as number) - 4 * (grey[i] as number) - lapMean;
        lapSquares += d * d;
      }
    }
    blur = lapSquares / interior;
  }
  // -0 from the entropy sum of a single bin reads oddly in reports.
  return { blur, brightness, contrast, entropy: entropy === 0 ? 0 : entropy, width: source.width, height: source.height, bytes: source.bytes };
}

/** Names of featureVector's components, in order. */
export const FEATURE_VECTOR_NAMES: readonly string[] = [
  'log1p(blur)',
  'brightness',
  'contrast',
  'entropy',
  'log1p(width*height)',
  'log(width/height)',
  'log1p(bytes)',
  'log1p(bits per source pixel)',
];

/**
 * The features as the isolation forest sees them. The forest splits uniformly between a feature's
 * minimum and maximum, so a heavy-tailed feature would spend nearly every split on its tail:
 * - blur (Laplacian variance spans 0 to ~10^5), source area and file bytes span orders of
 *   magnitude, so they enter as log1p;
 * - brightness, contrast and entropy are bounded and roughly symmetric: as they are;
 * - aspect ratio as log(width/height), symmetric between portrait and landscape;
 * - bits per source pixel (log1p(8 * bytes / (width * height))): how hard the file compresses,
 *   which neither size nor bytes shows alone to axis-aligned splits (a blank or a noise image of
 *   ordinary size has an extreme ratio).
 * A feature that is the same for every image (say every source is 28x28) is never split on.
 */
export function featureVector(f: ImageFeatures): number[] {
  const area = f.width * f.height;
  return [
    Math.log1p(f.blur),
    f.brightness,
    f.contrast,
    f.entropy,
    Math.log1p(area),
    Math.log(f.width / f.height),
    Math.log1p(f.bytes),
    Math.log1p((8 * f.bytes) / area),
  ];
}
