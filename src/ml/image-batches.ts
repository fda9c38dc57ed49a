/**
 * From stored uint8 pixels to model-ready float batches. Scaling goes through a 256-entry
 * lookup table while gathering the (shuffled) rows, so a batch costs one pass over its bytes
 * and no uint8 -> int32 -> float32 tensor chain.
 */
import * as tf from '@tensorflow/tfjs';
import type { AugmentationPolicy } from '../core/config.js';
import { createRng } from '../core/rng.js';
import { augmentImageAt } from '../data/augment.js';
import type { ImageBatchSource, PixelScaling } from './engine.js';

export function pixelTable(scaling: PixelScaling): Float32Array {
  const table = new Float32Array(256);
  for (let v = 0; v < 256; v++) {
    if (scaling === '0-1') table[v] = v / 255;
    else if (scaling === '-1-1') table[v] = v / 127.5 - 1;
    else throw new Error(`scaling must be '0-1' or '-1-1', got ${JSON.stringify(scaling)}`);
  }
  return table;
}

/**
 * Checks a source against the model it feeds; `numClasses` also checks every label.
 * Errors name the source (`what`), the field, the value and what was expected.
 */
export function validateSource(source: ImageBatchSource, what: string, inputShape: readonly number[], numClasses?: number): void {
  const [h, w, c] = source.shape;
  if (source.shape.length !== 3 || h !== inputShape[0] || w !== inputShape[1] || c !== inputShape[2]) {
    throw new Error(`${what}.shape must equal the model inputShape [${inputShape.join(', ')}], got [${source.shape.join(', ')}]`);
  }
  if (!Number.isInteger(source.count) || source.count < 1) throw new Error(`${what}.count must be an integer >= 1, got ${source.count}`);
  const expected = source.count * h * w * c;
  if (source.images.length !== expected) {
    throw new Error(`${what}.images must hold count*height*width*channels = ${expected} bytes, got ${source.images.length}`);
  }
  if (source.labels.length !== source.count) throw new Error(`${what}.labels must hold count = ${source.count} labels, got ${source.labels.length}`);
  pixelTable(source.scaling);
  if (numClasses !== undefined) {
    for (let i = 0; i < source.count; i++) {
      const label = source.labels[i]!;
      if (!(label >= 0 && label < numClasses)) throw new Error(`${what}.labels[${i}] must be in [0, ${numClasses}), got ${label}`);
    }
  }
}

/**
 * Gathers batches from one source. Each image tensor gets its own buffer: the cpu backend keeps
 * the array it is given, so a shared staging buffer would rewrite live tensors.
 */
export class BatchAssembler {
  private readonly pixels: number;
  private readonly table: Float32Array;
  /** Augmented uint8 pixels of the batch being built; reused, they become floats right away. */
  private augmented = new Uint8Array(0);

  constructor(private readonly source: ImageBatchSource) {
    const [h, w, c] = source.shape;
    this.pixels = h * w * c;
    this.table = pixelTable(source.scaling);
  }

  /** Images order[start..start+count) (or start..start+count without an order) as an NHWC tensor. */
  images(start: number, count: number, order?: Int32Array): tf.Tensor4D {
    const { images } = this.source;
    const n = this.pixels;
    const staging = new Float32Array(count * n);
    for (let i = 0; i < count; i++) {
      const row = order === undefined ? start + i : order[start + i]!;
      const from = row * n;
      const to = i * n;
      for (let p = 0; p < n; p++) staging[to + p] = this.table[images[from + p]!]!;
    }
    const [h, w, c] = this.source.shape;
    return tf.tensor4d(staging, [count, h, w, c]);
  }

  /**
   * Like `images`, but each image is augmented before scaling: image i (of this batch) with a
   * generator seeded by `seedFor(start + i)`, its position in the order. The policy is the
   * caller's to validate.
   */
  augmentedImages(start: number, count: number, order: Int32Array | undefined, policy: AugmentationPolicy, seedFor: (position: number) => number): tf.Tensor4D {
    const { images, shape } = this.source;
    const n = this.pixels;
    if (this.augmented.length < count * n) this.augmented = new Uint8Array(count * n);
    const pixels = this.augmented;
    for (let i = 0; i < count; i++) {
      const row = order === undefined ? start + i : order[start + i]!;
      augmentImageAt(images, row * n, pixels, i * n, shape, policy, createRng(seedFor(start + i)));
    }
    const staging = new Float32Array(count * n);
    for (let p = 0; p < count * n; p++) staging[p] = this.table[pixels[p]!]!;
    const [h, w, c] = shape;
    return tf.tensor4d(staging, [count, h, w, c]);
  }

  labels(start: number, count: number, order?: Int32Array): tf.Tensor1D {
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) labels[i] = this.source.labels[order === undefined ? start + i : order[start + i]!]!;
    return tf.tensor1d(labels, 'int32');
  }
}
