/**
 * Image embeddings for outlier detection: a pretrained tfjs layers model cut at a layer, its
 * output global-average-pooled to one vector per image and reduced to a few numbers by a seeded
 * Gaussian random projection (Johnson-Lindenstrauss: distances are roughly kept, so an image far
 * from the rest in the backbone's feature space stays far from them in the projection).
 *
 * The projection depends only on the seed and the pooled width, so every chunk of a dataset,
 * decoded by any worker at any time, lands in the same space: streaming-safe, no pass over the
 * whole dataset first.
 */
import * as tf from '@tensorflow/tfjs';
import { createRng } from '../core/rng.js';
import { loadLayersModelFromFiles } from './transfer.js';

/** Seed of the random projection: a constant, so the same backbone always gives the same space. */
export const EMBEDDING_PROJECTION_SEED = 0x5eed_e4b;

/** Images per forward pass: bounds the activations held at once. */
export const EMBED_BATCH = 32;

export interface EmbeddingOptions {
  backbone: { uri: string; cutLayer: string };
  /** Numbers per image after the projection. */
  dims: number;
  /** Reads model.json and weight shards by URI. Defaults to the local file system. */
  read?: (uri: string) => Promise<Uint8Array>;
}

/** Box-Muller normal samples from the seeded generator, scaled by 1/sqrt(dims). */
export function randomProjection(inputs: number, dims: number, seed = EMBEDDING_PROJECTION_SEED): Float32Array {
  if (!Number.isInteger(inputs) || inputs < 1) throw new RangeError(`randomProjection inputs must be an integer >= 1, got ${String(inputs)}`);
  if (!Number.isInteger(dims) || dims < 1) throw new RangeError(`randomProjection dims must be an integer >= 1, got ${String(dims)}`);
  const rng = createRng(seed + inputs * 7919 + dims);
  const out = new Float32Array(inputs * dims);
  const scale = 1 / Math.sqrt(dims);
  for (let i = 0; i < out.length; i += 2) {
    const u = 1 - rng.next(); // (0, 1]: log(u) is finite
    const v = rng.next();
    const r = Math.sqrt(-2 * Math.log(u)) * scale;
    out[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return out;
}

/** A loaded backbone that embeds batches of decoded images. Call `dispose` when done. */
export class BackboneEmbedder {
  private projection: tf.Tensor2D | undefined;

  private constructor(
    /** The backbone as loaded: it owns every layer's weights, `model` included. */
    private readonly full: tf.LayersModel,
    /** `full` up to the cut layer, sharing its layers. */
    private readonly model: tf.LayersModel,
    readonly dims: number,
    /** The backbone's input: [height, width, channels]. */
    readonly inputShape: [number, number, number],
  ) {}

  static async load(options: EmbeddingOptions): Promise<BackboneEmbedder> {
    if (!Number.isInteger(options.dims) || options.dims < 1) throw new RangeError(`embedding dims must be an integer >= 1, got ${String(options.dims)}`);
    // Cut by output rather than by topology (`cutTopology`), so Sequential models work too.
    const full = await loadLayersModelFromFiles(options.backbone.uri, options.read ? { read: options.read } : {});
    let cut: tf.SymbolicTensor | tf.SymbolicTensor[];
    try {
      cut = full.getLayer(options.backbone.cutLayer).output;
    } catch {
      const names = full.layers.map((l) => l.name);
      full.dispose();
      throw new Error(`${options.backbone.uri}: no layer ${JSON.stringify(options.backbone.cutLayer)} to cut at; its last layers are ${names.slice(-8).join(', ')}`);
    }
    if (Array.isArray(cut)) {
      full.dispose();
      throw new Error(`${options.backbone.uri}: layer ${JSON.stringify(options.backbone.cutLayer)} has several outputs; cut at a layer with one`);
    }
    const model = tf.model({ inputs: full.inputs, outputs: cut });
    const shape = model.inputs[0]?.shape;
    const [, h, w, c] = shape ?? [];
    if (shape?.length !== 4 || typeof h !== 'number' || typeof w !== 'number' || (c !== 1 && c !== 3)) {
      full.dispose();
      throw new Error(`${options.backbone.uri}: an embedding backbone must take [height, width, 1 or 3] images, it takes ${JSON.stringify(shape)}`);
    }
    return new BackboneEmbedder(full, model, options.dims, [h, w, c]);
  }

  /**
   * Embeds HWC uint8 `images` (each `shape`), scaled as the dataset scales them for training
   * (`scaling`), resized bilinearly to the backbone's input and grey repeated to RGB (or RGB
   * averaged to grey) as the backbone needs, `EMBED_BATCH` images per forward pass. Returns
   * `images.length * dims` numbers, image by image.
   */
  embed(images: readonly Uint8Array[], shape: readonly [number, number, number], scaling: '0-1' | '-1-1'): Float32Array {
    const [height, width, channels] = shape;
    const imageBytes = height * width * channels;
    const count = images.length;
    const out = new Float32Array(count * this.dims);
    for (let start = 0; start < count; start += EMBED_BATCH) {
      const n = Math.min(EMBED_BATCH, count - start);
      const batch = new Float32Array(n * imageBytes);
      for (let k = 0; k < n; k++) {
        const image = images[start + k] as Uint8Array;
        if (image.length !== imageBytes) throw new RangeError(`embed: image ${start + k} has ${image.length} bytes, a ${shape.join('x')} image ${imageBytes}`);
        batch.set(image, k * imageBytes);
      }
      const vectors = tf.tidy(() => {
        let x: tf.Tensor4D = tf.tensor4d(batch, [n, height, width, channels]);
        x = scaling === '0-1' ? x.div(255) : x.div(127.5).sub(1);
        const [bh, bw, bc] = this.inputShape;
        if (bh !== height || bw !== width) x = tf.image.resizeBilinear(x, [bh, bw]);
        if (bc === 3 && channels === 1) x = tf.tile(x, [1, 1, 1, 3]);
        else if (bc === 1 && channels === 3) x = x.mean(3, true);
        const y = this.model.predict(x) as tf.Tensor;
        const pooled = (y.rank === 4 ? y.mean([1, 2]) : y.rank === 3 ? y.mean(1) : y.reshape([n, -1])) as tf.Tensor2D;
        return pooled.matMul(this.projectionFor(pooled.shape[1]));
      });
      out.set(vectors.dataSync(), start * this.dims);
      vectors.dispose();
    }
    return out;
  }

  private projectionFor(inputs: number): tf.Tensor2D {
    if (this.projection?.shape[0] !== inputs) {
      this.projection?.dispose();
      this.projection = tf.keep(tf.tensor2d(randomProjection(inputs, this.dims), [inputs, this.dims]));
    }
    return this.projection;
  }

  dispose(): void {
    this.projection?.dispose();
    this.projection = undefined;
    this.full.dispose();
  }
}
