import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend.js';
import type { Checkpoint, ModelSpec, TrainRequest, TrainSpec } from '../../../src/ml/engine.js';
import { modelFromBytes } from '../../../src/ml/model-bytes.js';
import { runTraining } from '../../../src/ml/train-loop.js';
import { loadLayersModelFromFiles, modelArtifacts, writeModelFiles } from '../../../src/ml/transfer.js';
import { quadrantImages } from './synthetic-images.js';

const dir = mkdtempSync(join(tmpdir(), 'dv-transfer-'));
let backboneUri = '';
const train = quadrantImages(48, 5);

/** A small pretrained-looking backbone: conv - BN - relu - pool - flatten - dense 'feat' - dense 'old_logits'. */
async function saveBackbone(): Promise<string> {
  const input = tf.input({ shape: [16, 16, 1], name: 'image' });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'conv', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'bn' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: 'relu' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 8, activation: 'relu', name: 'feat', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(x) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 7, name: 'old_logits', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  const artifacts = await modelArtifacts(model);
  model.dispose();
  return writeModelFiles(artifacts, join(dir, 'backbone'));
}

async function namedWeights(bytes: Uint8Array): Promise<Map<string, Float32Array>> {
  const model = await modelFromBytes(bytes);
  const out = new Map(model.weights.map((w) => [w.originalName, Float32Array.from(w.read().dataSync())]));
  model.dispose();
  return out;
}

function same(a: Float32Array | undefined, b: Float32Array | undefined): boolean {
  expect(a).toBeDefined();
  expect(b).toBeDefined();
  return a!.length === b!.length && a!.every((v, i) => v === b![i]);
}

const BACKBONE_WEIGHTS = ['conv/kernel', 'conv/bias', 'bn/gamma', 'bn/beta', 'bn/moving_mean', 'bn/moving_variance', 'feat/kernel', 'feat/bias'];

function model(): ModelSpec {
  return { architecture: 'small-cnn', inputShape: [16, 16, 1], numClasses: 4, dropout: 0.2, backbone: { uri: backboneUri, cutLayer: 'feat' } };
}

beforeAll(async () => {
  await initBackend('wasm');
  backboneUri = await saveBackbone();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('transfer learning', () => {
  it('loads a layers model from model.json + shards and cuts it at a named layer', async () => {
    const full = await loadLayersModelFromFiles(backboneUri);
    expect(full.outputs[0]!.shape).toEqual([null, 7]);
    const cut = await loadLayersModelFromFiles(`file://${backboneUri}`, { cutLayer: 'feat' });
    expect(cut.outputs[0]!.shape).toEqual([null, 8]);
    expect(cut.layers.map((l) => l.name)).not.toContain('old_logits');
    full.dispose();
    cut.dispose();
  });

  it('trains the head of a frozen backbone: frozen weights (and BN statistics) unchanged, head changed', async () => {
    const spec: TrainSpec = { epochs: 1, batchSize: 16, learningRate: 0.01, seed: 3 };
    const checkpoints: Checkpoint[] = [];
    const outcome = await runTraining({ model: model(), spec, train, onEpochEnd: (_r, c) => Promise.resolve(void checkpoints.push(c)) });
    const after = await namedWeights(outcome.model);
    const pretrained = await loadLayersModelFromFiles(backboneUri);
    const before = new Map(pretrained.weights.map((w) => [w.originalName, Float32Array.from(w.read().dataSync())]));
    pretrained.dispose();
    for (const name of BACKBONE_WEIGHTS) expect(same(after.get(name), before.get(name)), name).toBe(true);
    expect(after.has('old_logits/kernel')).toBe(false);
    const head = after.get('dv_head_logits/kernel');
    expect(head?.length).toBe(8 * 4);
    // The head trained: a second run from another seed differs, and the loss is finite.
    expect(Number.isFinite(outcome.history[0]!.loss)).toBe(true);
    const fresh = await runTraining({ model: model(), spec: { ...spec, epochs: 1, learningRate: 1e-9 }, train, onEpochEnd: () => Promise.resolve() });
    expect(same(head, (await namedWeights(fresh.model)).get('dv_head_logits/kernel'))).toBe(false);
  });

  it('unfreezes on schedule and resumes exactly across the unfreeze boundaries', async () => {
    const spec: TrainSpec = {
      epochs: 3, batchSize: 16, learningRate: 0.01, seed: 4, optimizer: 'adamw', weightDecay: 0.01, clipNorm: 5,
      unfreeze: [{ afterEpochs: 2, layers: 'all', learningRateScale: 0.1 }, { afterEpochs: 1, layers: 1, learningRateScale: 0.5 }],
    };
    const base = (overrides: Partial<TrainRequest>): TrainRequest => ({ model: model(), spec, train, onEpochEnd: () => Promise.resolve(), ...overrides });
    const checkpoints: Checkpoint[] = [];
    const straight = await runTraining(base({ onEpochEnd: (_r, c) => Promise.resolve(void checkpoints.push(c)) }));
    expect(checkpoints.map((c) => c.epoch)).toEqual([1, 2, 3]);
    const [w1, w2, w3] = await Promise.all(checkpoints.map((c) => namedWeights(c.model)));
    const pretrained = await loadLayersModelFromFiles(backboneUri);
    const w0 = new Map(pretrained.weights.map((w) => [w.originalName, Float32Array.from(w.read().dataSync())]));
    pretrained.dispose();
    // Epoch 1: head only. Epoch 2: + the top weighted backbone layer ('feat'). Epoch 3: everything.
    for (const name of BACKBONE_WEIGHTS) expect(same(w1!.get(name), w0.get(name)), `epoch 1 ${name}`).toBe(true);
    expect(same(w2!.get('feat/kernel'), w1!.get('feat/kernel'))).toBe(false);
    for (const name of ['conv/kernel', 'bn/gamma', 'bn/moving_mean']) expect(same(w2!.get(name), w1!.get(name)), `epoch 2 ${name}`).toBe(true);
    for (const name of ['conv/kernel', 'bn/gamma', 'bn/moving_mean']) expect(same(w3!.get(name), w2!.get(name)), `epoch 3 ${name}`).toBe(false);

    for (const stopAfter of [1, 2]) {
      const resumed = await runTraining(base({ resume: checkpoints[stopAfter - 1]! }));
      const a = await namedWeights(straight.model);
      const b = await namedWeights(resumed.model);
      expect([...b.keys()]).toEqual([...a.keys()]);
      for (const [name, values] of a) expect(same(b.get(name), values), `resume after ${stopAfter}: ${name}`).toBe(true);
    }
  });

  it('rejects unfreezing without a backbone and steps that never apply', async () => {
    const spec: TrainSpec = { epochs: 2, batchSize: 16, learningRate: 0.01, seed: 1, unfreeze: [{ afterEpochs: 1, layers: 'all' }] };
    await expect(runTraining({ model: { architecture: 'small-cnn', inputShape: [16, 16, 1], numClasses: 4 }, spec, train, onEpochEnd: () => Promise.resolve() }))
      .rejects.toThrow(/needs model.backbone/);
    await expect(runTraining({ model: model(), spec: { ...spec, unfreeze: [{ afterEpochs: 2, layers: 'all' }] }, train, onEpochEnd: () => Promise.resolve() }))
      .rejects.toThrow(/never apply/);
    await expect(runTraining({ model: { ...model(), backbone: { uri: backboneUri, cutLayer: 'nope' } }, spec, train, onEpochEnd: () => Promise.resolve() }))
      .rejects.toThrow(/no layer "nope"/);
  });
});
