import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend.js';
import { buildModel } from '../../../src/ml/build-model.js';
import { modelToBytes } from '../../../src/ml/model-bytes.js';
import { createTfjsEngine } from '../../../src/ml/tfjs-engine.js';
import { quadrantImages } from './synthetic-images.js';

describe('tfjs engine embed', () => {
  const engine = createTfjsEngine({ backend: 'wasm' });
  let bytes: Uint8Array;
  let kernel: Float32Array;
  let bias: Float32Array;
  beforeAll(async () => {
    await initBackend('wasm');
    const model = buildModel({ architecture: 'small-cnn', inputShape: [16, 16, 1], numClasses: 4, widthMultiplier: 0.25 }, 11);
    try {
      bytes = await modelToBytes(model);
      const [w, b] = model.getLayer('logits').getWeights();
      kernel = w!.dataSync() as Float32Array;
      bias = b!.dataSync() as Float32Array;
    } finally {
      model.dispose();
    }
  });

  it('returns the features the classifier reads: its dense layer on them gives the predicted probabilities', async () => {
    const data = quadrantImages(10, 4);
    const before = tf.memory().numTensors;
    const embedded = await engine.embed!(bytes, data, { batchSize: 4 });
    expect(tf.memory().numTensors).toBe(before);
    // Dropout is the identity at inference, so the layer named is fc1 (128 x 0.25 units).
    expect(embedded).toMatchObject({ layer: 'fc1', dim: 32 });
    expect(embedded.values.length).toBe(10 * 32);
    const probabilities = await engine.predict(bytes, data);
    for (let i = 0; i < data.count; i++) {
      const logits = [0, 1, 2, 3].map((c) => {
        let z = bias[c]!;
        for (let d = 0; d < 32; d++) z += embedded.values[i * 32 + d]! * kernel[d * 4 + c]!;
        return z;
      });
      const top = Math.max(...logits);
      const exp = logits.map((z) => Math.exp(z - top));
      const sum = exp.reduce((a, b) => a + b, 0);
      exp.forEach((e, c) => expect(e / sum).toBeCloseTo(probabilities[i * 4 + c]!, 5));
    }
  });

  it('pools a named 4-D layer over height and width, one value per channel', async () => {
    const data = quadrantImages(3, 2);
    const embedded = await engine.embed!(bytes, data, { layer: 'conv2' });
    expect(embedded).toMatchObject({ layer: 'conv2', dim: 16 });
    expect(embedded.values.every((v) => v >= 0)).toBe(true); // mean of ReLU outputs
    await expect(engine.embed!(bytes, data, { layer: 'nope' })).rejects.toThrow('has no layer named "nope"');
  });
});
