import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { augmentationPolicySchema } from '../../../src/core/config.js';
import { createRng } from '../../../src/core/rng.js';
import { augmentImage, onlineSeed } from '../../../src/data/augment.js';
import { initBackend } from '../../../src/ml/backend.js';
import type { Checkpoint, EpochReport, ModelSpec, TrainRequest, TrainSpec } from '../../../src/ml/engine.js';
import { BatchAssembler } from '../../../src/ml/image-batches.js';
import { modelFromBytes } from '../../../src/ml/model-bytes.js';
import { createTfjsEngine } from '../../../src/ml/tfjs-engine.js';
import { evaluate } from '../../../src/ml/train-loop.js';
import { quadrantImages } from './synthetic-images.js';
import { maxDifference, weightsOf } from './weights.js';

const MODEL: ModelSpec = { architecture: 'small-cnn', inputShape: [16, 16, 1], numClasses: 4, widthMultiplier: 0.5 };
const SPEC: TrainSpec = { epochs: 2, batchSize: 32, learningRate: 3e-3, seed: 7 };
const POLICY = augmentationPolicySchema.parse({ rotationDeg: 10, shift: 0.1, zoom: 0.1, brightness: 0.1, gaussianNoiseStd: 2 });
const AUGMENT = { policy: POLICY, seed: 5 };
const small = quadrantImages(96, 3);
const val = quadrantImages(40, 4);

function request(overrides: Partial<TrainRequest> = {}): TrainRequest {
  return { model: MODEL, spec: SPEC, train: small, onEpochEnd: () => Promise.resolve(), ...overrides };
}

describe('BatchAssembler.augmentedImages', () => {
  it('scales augmentImage output, with seeds by position whatever the batch boundaries', () => {
    const assembler = new BatchAssembler(small);
    const order = Int32Array.from({ length: small.count }, (_, i) => (i * 37) % small.count);
    const seedFor = (position: number): number => onlineSeed(5, 3, position);
    const [whole, first, second] = tf.tidy(() => [
      assembler.augmentedImages(10, 12, order, POLICY, seedFor).dataSync(),
      assembler.augmentedImages(10, 5, order, POLICY, seedFor).dataSync(),
      assembler.augmentedImages(15, 7, order, POLICY, seedFor).dataSync(),
    ]);
    expect(Array.from(whole)).toEqual([...first, ...second]);
    const n = 16 * 16;
    for (let i = 0; i < 12; i++) {
      const row = order[10 + i]!;
      const expected = augmentImage(small.images.subarray(row * n, (row + 1) * n), [16, 16, 1], POLICY, createRng(seedFor(10 + i)));
      expect(Array.from(whole.subarray(i * n, (i + 1) * n))).toEqual(Array.from(expected, (v) => Math.fround(v / 255)));
    }
    // Unaugmented images are untouched by the shared staging buffer.
    expect(tf.tidy(() => Array.from(assembler.images(10, 2, order).dataSync()))).toEqual(
      Array.from(small.images.subarray(order[10]! * n, (order[10]! + 1) * n), (v) => Math.fround(v / 255)).concat(
        Array.from(small.images.subarray(order[11]! * n, (order[11]! + 1) * n), (v) => Math.fround(v / 255))),
    );
  });
});

describe.each(['wasm', 'cpu'] as const)('online augmentation in training on %s', (backend) => {
  const engine = createTfjsEngine({ backend });
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('1 epoch + checkpoint + resume 1 epoch equals 2 epochs straight, with augmentation on', async () => {
    const straight = await engine.train(request({ augment: AUGMENT }));
    const checkpoints: Checkpoint[] = [];
    await engine.train(request({
      augment: AUGMENT,
      spec: { ...SPEC, epochs: 1 },
      onEpochEnd: (_report, checkpoint) => {
        checkpoints.push(checkpoint);
        return Promise.resolve();
      },
    }));
    const resumed = await engine.train(request({ augment: AUGMENT, resume: checkpoints[0] }));
    expect(maxDifference(await weightsOf(resumed.model), await weightsOf(straight.model))).toBeLessThan(1e-5);
  });
});

describe('online augmentation in training on wasm: effect, validation, checks', () => {
  const engine = createTfjsEngine({ backend: 'wasm' });
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('augmentation changes what is learnt; an identity policy changes nothing', async () => {
    const spec = { ...SPEC, epochs: 1 };
    const plain = await weightsOf((await engine.train(request({ spec }))).model);
    const identity = await weightsOf((await engine.train(request({ spec, augment: { policy: augmentationPolicySchema.parse({}), seed: 5 } }))).model);
    const augmented = await weightsOf((await engine.train(request({ spec, augment: AUGMENT }))).model);
    const otherSeed = await weightsOf((await engine.train(request({ spec, augment: { ...AUGMENT, seed: 6 } }))).model);
    expect(maxDifference(identity, plain)).toBe(0);
    expect(maxDifference(augmented, plain)).toBeGreaterThan(1e-4);
    expect(maxDifference(otherSeed, augmented)).toBeGreaterThan(1e-4);
  });

  it('validation metrics are measured on unaugmented images', async () => {
    const reports: EpochReport[] = [];
    const outcome = await engine.train(request({
      val,
      augment: { policy: augmentationPolicySchema.parse({ rotationDeg: 90, gaussianNoiseStd: 60, saltPepper: 0.3 }), seed: 1 },
      spec: { ...SPEC, epochs: 1 },
      onEpochEnd: (report) => {
        reports.push(report);
        return Promise.resolve();
      },
    }));
    const model = await modelFromBytes(outcome.model);
    const metrics = evaluate(model, val);
    model.dispose();
    expect(reports[0]!.valLoss).toBeCloseTo(metrics.loss, 5);
    expect(reports[0]!.valAccuracy).toBeCloseTo(metrics.accuracy, 5);
  });

  it('rejects a bad policy or seed, naming the field', async () => {
    await expect(engine.train(request({ augment: { policy: { ...POLICY, zoom: 5 }, seed: 1 } }))).rejects.toThrow(/augment\.policy: zoom/);
    await expect(engine.train(request({ augment: { policy: POLICY, seed: 0.5 } }))).rejects.toThrow(/augment\.seed/);
  });
});
