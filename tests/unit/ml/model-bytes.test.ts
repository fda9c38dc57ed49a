import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend.js';
import { buildModel } from '../../../src/ml/build-model.js';
import type { ModelSpec } from '../../../src/ml/engine.js';
import { modelFromBytes, modelToBytes } from '../../../src/ml/model-bytes.js';
import { createOptimizer, optimizerToBytes, restoreOptimizer } from '../../../src/ml/optimizer-bytes.js';
import { seededUniform } from '../../../src/ml/seeded-random.js';

const SPEC: ModelSpec = { architecture: 'small-cnn', inputShape: [12, 12, 2], numClasses: 3, widthMultiplier: 0.25 };

beforeAll(async () => {
  await initBackend('wasm');
});

function predict(model: tf.LayersModel, x: tf.Tensor): Float32Array {
  return tf.tidy(() => (model.predict(x) as tf.Tensor).dataSync() as Float32Array);
}

describe('model bytes', () => {
  it('round trip gives identical predictions and identical bytes', async () => {
    const model = buildModel(SPEC, 3);
    const x = tf.tensor4d(seededUniform(5 * 12 * 12 * 2, 4), [5, 12, 12, 2]);
    const bytes = await modelToBytes(model);
    const restored = await modelFromBytes(bytes);
    expect(predict(restored, x)).toEqual(predict(model, x));
    // Buffer.equals, not toEqual: a deep equality walks a large model (ResNet-50: ~94 MB) element by element.
    expect(Buffer.from(await modelToBytes(restored)).equals(Buffer.from(bytes))).toBe(true);
    tf.dispose([x]);
    model.dispose();
    restored.dispose();
  });

  it('reads bytes that sit at an offset inside a larger buffer, as a store read returns them', async () => {
    const model = buildModel(SPEC, 3);
    const x = tf.tensor4d(seededUniform(5 * 12 * 12 * 2, 4), [5, 12, 12, 2]);
    const bytes = await modelToBytes(model);
    const pooled = Buffer.alloc(bytes.length + 100, 7);
    pooled.set(bytes, 37);
    const restored = await modelFromBytes(pooled.subarray(37, 37 + bytes.length));
    expect(predict(restored, x)).toEqual(predict(model, x));
    tf.dispose([x]);
    model.dispose();
    restored.dispose();
  });

  it('the same seed builds the same weights, another seed different ones', async () => {
    const [a, b, c] = [buildModel(SPEC, 11), buildModel(SPEC, 11), buildModel(SPEC, 12)];
    const [ba, bb, bc] = await Promise.all([modelToBytes(a), modelToBytes(b), modelToBytes(c)]);
    expect(ba).toEqual(bb);
    expect(ba).not.toEqual(bc);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('rejects bytes that are not a model, saying what it found', async () => {
    await expect(modelFromBytes(new TextEncoder().encode('JUNK, not a model'))).rejects.toThrow('model bytes: expected magic "DVM1", got "JUNK"');
  });
});

describe('optimizer bytes', () => {
  it('restore keeps Adam iterations and slots, so the next step matches', async () => {
    const v = tf.variable(tf.tensor1d([1, -2, 3]));
    const step = (opt: tf.Optimizer) => opt.minimize(() => tf.sum(tf.square(tf.sub(v, tf.tensor1d([0.5, 0.5, 0.5])))) as tf.Scalar, false, [v]);
    const settings = { kind: 'adam' as const, learningRate: 0.1, momentum: 0 };
    const original = createOptimizer(settings);
    step(original);
    step(original);
    const bytes = await optimizerToBytes(original, settings);
    const saved = v.dataSync().slice();

    step(original);
    const continued = v.dataSync().slice();
    v.assign(tf.tensor1d(saved));
    const restored = await restoreOptimizer(bytes, settings);
    step(restored);
    expect(v.dataSync()).toEqual(continued);

    await expect(restoreOptimizer(bytes, { kind: 'sgd', learningRate: 0.1, momentum: 0.9 }))
      .rejects.toThrow('checkpoint optimizer is adam (momentum 0), but the run asks for sgd (momentum 0.9)');
    original.dispose();
    restored.dispose();
    v.dispose();
  });
});
