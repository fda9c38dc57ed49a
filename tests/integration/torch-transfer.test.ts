/**
 * Transfer learning on the torch engine: a tfjs layers model rebuilt in PyTorch computes the same
 * features as tfjs (every layer kind the rebuild knows, TF 'same' padding on odd sizes, a real
 * MobileNetV2 from nsfwjs), stays frozen while the head trains, opens up on the unfreeze
 * schedule, resumes across an unfreeze boundary exactly, and refuses what it cannot rebuild with
 * errors that name the layer. Skipped, with the reason printed, only when PyTorch cannot start.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/ml/backend.js';
import type { Checkpoint, ImageBatchSource, ModelSpec, TrainSpec } from '../../src/ml/engine.js';
import { PointwiseActivation } from '../../src/ml/layers/activation.js';
import { ChannelScale } from '../../src/ml/layers/channel-scale.js';
import { createTorchEngine } from '../../src/ml/torch-engine.js';
import { loadLayersModelFromFiles, modelArtifacts, nsfwjsMobileNetV2Artifacts, writeModelFiles } from '../../src/ml/transfer.js';
import { createRng } from '../../src/ml/seeded-random.js';

const dir = mkdtempSync(join(tmpdir(), 'dv-torch-transfer-'));
const torch = createTorchEngine({ device: 'cpu', threads: 1, progressEvery: 4 });
const torchSkip = await torch.start().then(() => undefined, (error: unknown) => String(error));
if (torchSkip !== undefined) console.warn(`torch transfer: SKIPPED: ${torchSkip}`);

const SIDE = 17;

function embed(model: Uint8Array, data: ImageBatchSource) {
  if (torch.embed === undefined) throw new Error('the torch engine has no embed');
  return torch.embed(model, data);
}
let backboneUri = '';

function randomImages(count: number, shape: [number, number, number], seed: number, classes = 3): ImageBatchSource {
  const next = createRng(seed);
  const size = shape[0] * shape[1] * shape[2];
  const images = new Uint8Array(count * size);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = i % classes;
    // A class-dependent brightness ramp over noise, so the head has something to learn.
    for (let p = 0; p < size; p++) images[i * size + p] = Math.min(255, Math.floor(next() * 120 + (labels[i]! * 60 * (p % shape[1])) / shape[1]));
  }
  return { images, labels, count, shape, scaling: '0-1' };
}

const d = (n: number) => tf.initializers.glorotUniform({ seed: n });

/** Every layer kind the torch rebuild knows, on a 17x17x3 input (odd, so 'same' pads unevenly). */
async function saveBackbone(): Promise<string> {
  const input = tf.input({ shape: [SIDE, SIDE, 3], name: 'image' });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;
  let x = apply(tf.layers.zeroPadding2d({ padding: [[0, 1], [1, 0]], name: 'pad' }), input);
  x = apply(tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: d(1), biasInitializer: 'randomNormal', name: 'stem' }), x);
  x = apply(tf.layers.batchNormalization({ name: 'stem_bn', epsilon: 1e-3 }), x);
  x = apply(tf.layers.reLU({ maxValue: 6, name: 'stem_relu6' }), x);
  const dw = apply(tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', depthwiseInitializer: d(2), useBias: false, name: 'dw' }), x);
  const sep = apply(tf.layers.separableConv2d({ filters: 16, kernelSize: 3, padding: 'same', depthwiseInitializer: d(3), pointwiseInitializer: d(4), name: 'sep' }), dw);
  const proj = apply(tf.layers.conv2d({ filters: 16, kernelSize: 1, kernelInitializer: d(5), name: 'proj' }), dw);
  x = apply(tf.layers.add({ name: 'residual' }), [sep, proj]);
  x = apply(new PointwiseActivation({ kind: 'hard-swish', name: 'hswish' }), x);
  const pooled = apply(tf.layers.globalAveragePooling2d({ name: 'se_pool' }), x);
  const gate = apply(tf.layers.dense({ units: 16, activation: 'sigmoid', kernelInitializer: d(6), name: 'se_gate' }), pooled);
  x = apply(new ChannelScale({ name: 'se_scale' }), [x, gate]);
  const maxed = apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'maxpool' }), x);
  const avged = apply(tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'avgpool' }), x);
  x = apply(tf.layers.concatenate({ name: 'mix' }), [maxed, avged]);
  x = apply(tf.layers.upSampling2d({ size: [2, 2], name: 'up' }), x);
  x = apply(tf.layers.leakyReLU({ alpha: 0.1, name: 'leaky' }), x);
  x = apply(tf.layers.flatten({ name: 'flatten' }), x);
  x = apply(tf.layers.dense({ units: 12, activation: 'tanh', kernelInitializer: d(7), name: 'feat' }), x);
  const out = apply(tf.layers.dense({ units: 5, kernelInitializer: d(8), name: 'old_logits' }), x);
  const model = tf.model({ inputs: input, outputs: out });
  // Moving statistics and scales away from 1 and 0, so a rebuild that ignored them would show.
  const bn = model.getLayer('stem_bn');
  bn.setWeights(bn.getWeights().map((w, i) => tf.tidy(() => (i === 3 ? tf.randomUniform(w.shape, 0.5, 2, 'float32', 11) : tf.randomNormal(w.shape, i === 0 ? 1 : 0, 0.3, 'float32', 12 + i)))));
  const artifacts = await modelArtifacts(model);
  model.dispose();
  return writeModelFiles(artifacts, join(dir, 'backbone'));
}

/** tfjs's features of `data` at `cutLayer`, globally averaged when 4-D (the head's input). */
async function tfjsFeatures(uri: string, cutLayer: string, data: ImageBatchSource): Promise<Float32Array> {
  const model = await loadLayersModelFromFiles(uri, { cutLayer, inputShape: data.shape });
  try {
    return tf.tidy(() => {
      const x = tf.tensor4d(data.images, [data.count, ...data.shape], 'int32').toFloat().div(255);
      const y = model.predict(x) as tf.Tensor;
      return (y.rank === 4 ? y.mean([1, 2]) : y).dataSync() as Float32Array;
    });
  } finally {
    model.dispose();
  }
}

function maxRelativeError(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  const scale = Math.max(1e-6, ...Array.from(b, Math.abs));
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / scale);
  return worst;
}

function spec(cutLayer: string, extra: Partial<ModelSpec> = {}): ModelSpec {
  return { architecture: 'small-cnn', inputShape: [SIDE, SIDE, 3], numClasses: 3, dropout: 0.1, backbone: { uri: backboneUri, cutLayer }, ...extra };
}

const train = randomImages(48, [SIDE, SIDE, 3], 1);
const probe = randomImages(10, [SIDE, SIDE, 3], 2);

beforeAll(async () => {
  await initBackend('cpu');
  backboneUri = await saveBackbone();
});

afterAll(async () => {
  await torch.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(torchSkip !== undefined)('torch engine: transfer learning from tfjs layers models', () => {
  it.each(['mix', 'feat'])('computes the backbone features tfjs computes (cut at %s) and keeps them frozen while the head trains', async (cut) => {
    const reference = await tfjsFeatures(backboneUri, cut, probe);
    const outcome = await torch.train({ model: spec(cut), spec: { epochs: 1, batchSize: 16, learningRate: 1e-2, seed: 3 }, train, onEpochEnd: () => Promise.resolve() });
    const { values, dim } = await embed(outcome.model, probe);
    expect(dim).toBe(cut === 'mix' ? 32 : 12);
    expect(maxRelativeError(values, reference)).toBeLessThan(1e-4);
    // The head learned something, and the count covers backbone and head.
    expect(outcome.history[0]!.loss).toBeGreaterThan(0);
    expect(outcome.paramsCount).toBe(await torch.paramsCount(spec(cut)));
  }, 120_000);

  it('matches tfjs on nsfwjs MobileNetV2 (ImageNet, fine-tuned for 5 content classes) cut at out_relu, at 64x64x3', async () => {
    const uri = await writeModelFiles(await nsfwjsMobileNetV2Artifacts(), join(dir, 'mobilenet_v2'));
    const images = randomImages(6, [64, 64, 3], 4);
    const reference = await tfjsFeatures(uri, 'out_relu', images);
    const model: ModelSpec = { architecture: 'small-cnn', inputShape: [64, 64, 3], numClasses: 3, backbone: { uri, cutLayer: 'out_relu' } };
    const outcome = await torch.train({ model, spec: { epochs: 1, batchSize: 6, learningRate: 1e-3, seed: 1 }, train: images, onEpochEnd: () => Promise.resolve() });
    const { values, dim } = await embed(outcome.model, images);
    expect(dim).toBe(1280);
    expect(maxRelativeError(values, reference)).toBeLessThan(1e-4);
  }, 180_000);

  it('unfreezes on schedule, at the scaled rate, and a run resumed across the boundary ends where the uninterrupted one does', async () => {
    const reference = await tfjsFeatures(backboneUri, 'feat', probe);
    const run: TrainSpec = {
      epochs: 3, batchSize: 16, learningRate: 5e-3, seed: 9,
      unfreeze: [{ afterEpochs: 2, layers: 'all', learningRateScale: 0.5 }, { afterEpochs: 1, layers: 2, learningRateScale: 0.2 }],
    };
    const checkpoints: Checkpoint[] = [];
    const whole = await torch.train({ model: spec('feat'), spec: run, train, onEpochEnd: (_r, c) => Promise.resolve(void checkpoints.push(c)) });
    expect(checkpoints).toHaveLength(3);
    // Epoch 1 trains the head only: the backbone's features are the pretrained ones.
    const afterOne = await embed(checkpoints[0]!.model, probe);
    expect(maxRelativeError(afterOne.values, reference)).toBeLessThan(1e-4);
    // Epoch 2 opens the top two weighted layers (feat, se_gate): the features move.
    const afterTwo = await embed(checkpoints[1]!.model, probe);
    expect(maxRelativeError(afterTwo.values, reference)).toBeGreaterThan(1e-3);

    // The scale multiplies the opened layers' step: at 1e-4 of the rate they barely move.
    const slow: Checkpoint[] = [];
    const slowRun: TrainSpec = { ...run, epochs: 2, unfreeze: [{ afterEpochs: 1, layers: 2, learningRateScale: 1e-4 }] };
    await torch.train({ model: spec('feat'), spec: slowRun, train, onEpochEnd: (_r, c) => Promise.resolve(void slow.push(c)) });
    const slowTwo = maxRelativeError((await embed(slow[1]!.model, probe)).values, reference);
    expect(slowTwo).toBeGreaterThan(0);
    expect(slowTwo).toBeLessThan(maxRelativeError(afterTwo.values, reference) / 100);

    const resumed = await torch.train({ model: spec('feat'), spec: run, train, resume: checkpoints[0], onEpochEnd: () => Promise.resolve() });
    const [a, b] = await Promise.all([torch.predict(whole.model, probe), torch.predict(resumed.model, probe)]);
    expect(maxRelativeError(b, a)).toBeLessThan(1e-6);
    expect(resumed.history.map((h) => h.epoch)).toEqual([2, 3]);
  }, 180_000);

  it('explains (Grad-CAM on the last backbone convolution) and exports to ONNX like any torch model', async () => {
    const trained = await torch.train({ model: spec('mix'), spec: { epochs: 1, batchSize: 16, learningRate: 1e-2, seed: 5 }, train, onEpochEnd: () => Promise.resolve() });
    const cam = await torch.gradCam!({ model: trained.model, data: probe, indices: [0, 1] });
    expect(cam.layer).toBe('backbone.layers.proj');
    expect([cam.height, cam.width]).toEqual([5, 5]);
    expect(Math.max(...cam.heatmaps)).toBeCloseTo(1, 5);

    const file = join(dir, 'transfer.onnx');
    const exported = await torch.exportOnnx(trained.model, file);
    const session = await ort.InferenceSession.create(file);
    const pixels = Float32Array.from(probe.images, (v) => v / 255);
    const out = await session.run({ [exported.inputName]: new ort.Tensor('float32', pixels, [probe.count, SIDE, SIDE, 3]) });
    expect(maxRelativeError(out[exported.outputName]!.data as Float32Array, await torch.predict(trained.model, probe))).toBeLessThan(1e-5);
    await session.release();
  }, 120_000);

  it('names what it cannot use: a missing cut layer, an unknown fromLayer, a layer kind it cannot rebuild', async () => {
    const run: TrainSpec = { epochs: 2, batchSize: 16, learningRate: 1e-3, seed: 1 };
    const go = (model: ModelSpec, s: TrainSpec = run) => torch.train({ model, spec: s, train, onEpochEnd: () => Promise.resolve() });
    await expect(go(spec('nope'))).rejects.toThrow(/backbone .*model\.json.*no layer "nope"/);
    await expect(go(spec('feat'), { ...run, unfreeze: [{ afterEpochs: 1, layers: { fromLayer: 'old_logits' } }] }))
      .rejects.toThrow(/spec\.unfreeze\[0\]\.layers\.fromLayer: the backbone has no layer 'old_logits' \(below the cut\)/);
    await expect(go(spec('feat'), { ...run, unfreeze: [{ afterEpochs: 2, layers: 'all' }] })).rejects.toThrow(/afterEpochs is 2, so it would never apply in a run of 2 epochs/);

    const input = tf.input({ shape: [SIDE, SIDE, 3], name: 'image' });
    const norm = tf.layers.layerNormalization({ name: 'ln' }).apply(input) as tf.SymbolicTensor;
    const flat = tf.layers.flatten({ name: 'flat' }).apply(norm) as tf.SymbolicTensor;
    const odd = tf.model({ inputs: input, outputs: flat });
    const uri = await writeModelFiles(await modelArtifacts(odd), join(dir, 'odd'));
    odd.dispose();
    await expect(go({ ...spec('flat'), backbone: { uri, cutLayer: 'flat' } })).rejects.toThrow(/backbone layer 'ln' is a LayerNormalization, which the torch engine cannot rebuild/);
  }, 120_000);
});
