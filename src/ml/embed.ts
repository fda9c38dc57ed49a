/** Image embeddings: a trained model's penultimate features (what its classifier reads), pooled. */
import * as tf from '@tensorflow/tfjs';
import type { Embeddings, ImageBatchSource } from './engine.js';
import { BatchAssembler, validateSource } from './image-batches.js';

/** Layers that are the identity at inference: stepped back over so the name is the layer that computes the features. */
const INFERENCE_IDENTITY = new Set(['Dropout', 'SeededDropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);

/** Name of the layer whose output the model's last layer (its classifier) reads. */
export function defaultEmbeddingLayer(model: tf.LayersModel): string {
  const last = model.layers[model.layers.length - 1];
  const before = last?.inboundNodes[0]?.inboundLayers ?? [];
  if (before.length !== 1 || before[0] === undefined || before[0].getClassName() === 'InputLayer') {
    throw new Error(`model ${model.name}: its last layer ${JSON.stringify(last?.name)} does not read exactly one feature layer, so there is no default embedding layer; name one`);
  }
  let layer = before[0];
  while (INFERENCE_IDENTITY.has(layer.getClassName())) {
    const up = layer.inboundNodes[0]?.inboundLayers ?? [];
    if (up.length !== 1 || up[0] === undefined || up[0].getClassName() === 'InputLayer') break;
    layer = up[0];
  }
  return layer.name;
}

/**
 * Features of every image of `data` at `layer` (default: defaultEmbeddingLayer), one row per
 * image: a 4-D feature map is averaged over height and width, a 3-D token sequence over its
 * tokens, anything else flattened.
 */
export function embedImages(model: tf.LayersModel, data: ImageBatchSource, options: { batchSize?: number; layer?: string } = {}): Embeddings {
  const inShape = model.inputs[0]?.shape.slice(1) as number[] | undefined;
  if (inShape === undefined) throw new Error(`model ${model.name} has no image input`);
  validateSource(data, 'data', inShape);
  const batchSize = options.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be an integer >= 1, got ${batchSize}`);
  const name = options.layer ?? defaultEmbeddingLayer(model);
  const layer = model.layers.find((l) => l.name === name);
  if (layer === undefined) throw new Error(`model ${model.name} has no layer named ${JSON.stringify(name)}`);
  const features = tf.model({ inputs: model.inputs, outputs: layer.output as tf.SymbolicTensor });
  const rank = (layer.output as tf.SymbolicTensor).shape.length;
  const pool = (y: tf.Tensor): tf.Tensor2D => {
    if (rank === 4) return tf.mean(y, [1, 2]) as tf.Tensor2D;
    if (rank === 3) return tf.mean(y, 1) as tf.Tensor2D;
    return tf.reshape(y, [y.shape[0] as number, -1]) as tf.Tensor2D;
  };
  const batches = new BatchAssembler(data);
  let values = new Float32Array(0);
  let dim = 0;
  for (let start = 0; start < data.count; start += batchSize) {
    const count = Math.min(batchSize, data.count - start);
    const rows = tf.tidy(() => pool(features.apply(batches.images(start, count), { training: false }) as tf.Tensor));
    try {
      if (start === 0) {
        dim = rows.shape[1];
        values = new Float32Array(data.count * dim);
      }
      values.set(rows.dataSync(), start * dim);
    } finally {
      rows.dispose();
    }
  }
  return { values, dim, layer: name };
}
