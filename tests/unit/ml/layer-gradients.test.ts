import * as tf from '@tensorflow/tfjs';
import { beforeAll, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend.js';
import { seededUniform } from '../../../src/ml/seeded-random.js';

beforeAll(async () => {
  await initBackend('cpu');
  await initBackend('wasm');
});

/**
 * Most layers an image model is built from, so a gradient kernel missing on wasm shows up as
 * a failure here rather than in a training run: strided/'same' convs, depthwise and separable
 * convs, batch norm, both poolings, concatenation and the usual activations.
 */
function layerZoo(): tf.LayersModel {
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const input = tf.input({ shape: [12, 12, 3] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu6', kernelInitializer: init(1) }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization().apply(x) as tf.SymbolicTensor;
  x = tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'elu', depthwiseInitializer: init(2) }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.separableConv2d({ filters: 6, kernelSize: 3, activation: 'sigmoid', depthwiseInitializer: init(3), pointwiseInitializer: init(4) }).apply(x) as tf.SymbolicTensor;
  const avg = tf.layers.averagePooling2d({ poolSize: 2, padding: 'same' }).apply(x) as tf.SymbolicTensor;
  const max = tf.layers.maxPooling2d({ poolSize: 2, padding: 'same' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.leakyReLU().apply(tf.layers.concatenate().apply([avg, max])) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const dense = tf.layers.dense({ units: 5, activation: 'tanh', kernelInitializer: init(5) }).apply(tf.layers.flatten().apply(x)) as tf.SymbolicTensor;
  const merged = tf.layers.concatenate().apply([pooled, dense]) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(6) }).apply(merged) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: out });
}

async function gradientsOn(backend: 'cpu' | 'wasm'): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const model = layerZoo();
  const x = tf.tensor4d(seededUniform(4 * 12 * 12 * 3, 21, -1, 1), [4, 12, 12, 3]);
  const y = tf.oneHot(tf.tensor1d([0, 1, 2, 1], 'int32'), 3);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(() => tf.losses.logLoss(y, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, variables);
  const values = variables.map((v) => grads[v.name]!.dataSync() as Float32Array);
  tf.dispose([x, y, value, ...Object.values(grads)]);
  model.dispose();
  return values;
}

it('a model made of common layers gets the same gradients on wasm as on cpu', async () => {
  const reference = await gradientsOn('cpu');
  const ours = await gradientsOn('wasm');
  expect(ours.length).toBe(reference.length);
  let worst = 0;
  reference.forEach((g, i) => g.forEach((v, j) => {
    worst = Math.max(worst, Math.abs(v - ours[i]![j]!) / Math.max(1, Math.abs(v)));
  }));
  expect(worst).toBeLessThan(1e-4);
});
