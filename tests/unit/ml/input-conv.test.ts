import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend.js';
import { inputConv2d } from '../../../src/ml/layers/input-conv.js';
import { modelFromBytes, modelToBytes } from '../../../src/ml/model-bytes.js';
import { seededUniform } from '../../../src/ml/seeded-random.js';
import { BATCH_NORM_TRAIN_GRAD_KERNEL } from '../../../src/ml/kernels/batch-norm-train.js';

beforeAll(async () => {
  await initBackend('wasm');
});

/** image -> first conv (ours or tfjs-layers') -> batch norm -> conv -> logits, with fixed weights. */
function model(first: 'ours' | 'plain', useBias: boolean): tf.LayersModel {
  const input = tf.input({ shape: [9, 9, 3] });
  const args = { filters: 8, kernelSize: 3, strides: 2, padding: 'same' as const, useBias, name: 'stem_conv', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), biasInitializer: tf.initializers.randomNormal({ seed: 2 }) };
  let x = (first === 'ours' ? inputConv2d(args) : tf.layers.conv2d(args)).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', useBias: false, name: 'conv', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x });
}

async function lossAndGrads(m: tf.LayersModel, images: tf.Tensor): Promise<{ loss: number; grads: Record<string, Float32Array>; kernels: string[]; shapes: string[] }> {
  const variables = m.trainableWeights.map((w) => w.read() as tf.Variable);
  let result: { value: tf.Scalar; grads: tf.NamedTensorMap } | undefined;
  const profile = await tf.profile(() => {
    result = tf.variableGrads(() => tf.sum(tf.square(m.apply(images, { training: true }) as tf.Tensor)) as tf.Scalar, variables);
  });
  const grads: Record<string, Float32Array> = {};
  for (const v of variables) grads[v.name.replace(/_\d+(?=\/|$)/g, '')] = (await result!.grads[v.name]!.data()) as Float32Array;
  const loss = (await result!.value.data())[0]!;
  tf.dispose([result!.value, ...Object.values(result!.grads)]);
  return { loss, grads, kernels: profile.kernelNames, shapes: profile.kernels.filter((k) => k.name === 'Conv2DBackpropInput').map((k) => JSON.stringify(k.outputShapes)) };
}

describe('inputConv2d: a first convolution that computes no gradient for the image', () => {
  it.each([false, true])('same loss and weight gradients as tfjs-layers\' Conv2D, and no Conv2DBackpropInput into the image (bias %s)', async (useBias) => {
    const images = tf.tensor4d(seededUniform(2 * 9 * 9 * 3, 4, 0, 1), [2, 9, 9, 3]);
    const ours = model('ours', useBias);
    const plain = model('plain', useBias);
    const a = await lossAndGrads(ours, images);
    const b = await lossAndGrads(plain, images);
    expect(a.loss).toBeCloseTo(b.loss, 5);
    expect(Object.keys(a.grads).sort()).toEqual(Object.keys(b.grads).sort());
    for (const [name, g] of Object.entries(b.grads)) {
      const mine = a.grads[name]!;
      for (let i = 0; i < g.length; i++) expect(Math.abs(mine[i]! - g[i]!), `${name}[${i}]`).toBeLessThan(1e-5 * Math.max(1, Math.abs(g[i]!)));
    }
    // tfjs-layers' fused convolution computes the image's gradient ([2,9,9,3]); ours does not.
    expect(b.shapes).toContain(JSON.stringify([[2, 9, 9, 3]]));
    expect(a.shapes).not.toContain(JSON.stringify([[2, 9, 9, 3]]));
    tf.dispose(images);
    ours.dispose();
    plain.dispose();
  });

  it('serialises as a plain Conv2D with the same config, so saved models load anywhere', () => {
    const ours = model('ours', true);
    const plain = model('plain', true);
    const layer = (m: tf.LayersModel) => (m.toJSON(null, false) as unknown as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } }).config.layers.find((l) => l.config['name'] === 'stem_conv')!;
    expect(layer(ours).class_name).toBe('Conv2D');
    expect(layer(ours).config).toEqual(layer(plain).config);
    ours.dispose();
    plain.dispose();
  });
});

describe('models loaded from bytes train as built ones', () => {
  it('their first convolution computes no gradient for the image, and batch norm takes the fused moments', async () => {
    const images = tf.tensor4d(seededUniform(2 * 9 * 9 * 3, 4, 0, 1), [2, 9, 9, 3]);
    const built = model('ours', true);
    // Saved from a model whose first convolution is tfjs-layers' own Conv2D.
    const loaded = await modelFromBytes(await modelToBytes(model('plain', true)));
    const a = await lossAndGrads(built, images);
    const b = await lossAndGrads(loaded, images);
    expect(b.loss).toBeCloseTo(a.loss, 5);
    expect(b.shapes).not.toContain(JSON.stringify([[2, 9, 9, 3]]));
    // The built model here has tfjs-layers' own batch norm (tf.moments); the loaded one the fused
    // moments, and batch norm's gradient as one kernel.
    expect(a.kernels).not.toContain('MomentsProject');
    expect(b.kernels).toContain('MomentsProject');
    expect(b.kernels).toContain(BATCH_NORM_TRAIN_GRAD_KERNEL);
    tf.dispose(images);
    built.dispose();
    loaded.dispose();
  });
});
