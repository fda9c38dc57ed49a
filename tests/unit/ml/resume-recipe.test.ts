import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend.js';
import type { Checkpoint, EpochReport, ModelSpec, TrainRequest, TrainSpec } from '../../../src/ml/engine.js';
import { runTraining } from '../../../src/ml/train-loop.js';
import { decodeTrainState } from '../../../src/ml/train-state.js';
import { quadrantImages } from './synthetic-images.js';
import { maxDifference as maxWeightDifference, weightsOf } from './weights.js';

const MODEL: ModelSpec = { architecture: 'small-cnn', inputShape: [16, 16, 1], numClasses: 4, widthMultiplier: 0.5, dropout: 0.3 };
const small = quadrantImages(96, 3);
const val = quadrantImages(40, 4);

async function maxDifference(a: Uint8Array, b: Uint8Array): Promise<number> {
  return maxWeightDifference(await weightsOf(a), await weightsOf(b));
}

/** Trains `spec` straight, and again interrupted after `stopAfter` epochs and resumed from that checkpoint. */
async function straightAndResumed(spec: TrainSpec, stopAfter: number): Promise<{ straight: Uint8Array; resumed: Uint8Array; reports: EpochReport[][] }> {
  const base = (overrides: Partial<TrainRequest>): TrainRequest => ({ model: MODEL, spec, train: small, val, onEpochEnd: () => Promise.resolve(), ...overrides });
  const straightReports: EpochReport[] = [];
  const straight = await runTraining(base({ onEpochEnd: (r) => Promise.resolve(void straightReports.push(r)) }));
  const checkpoints: Checkpoint[] = [];
  const controller = new AbortController();
  // The interruption: the run is aborted right after checkpoint `stopAfter` is persisted.
  await expect(runTraining(base({
    signal: controller.signal,
    onEpochEnd: (_r, checkpoint) => {
      checkpoints.push(checkpoint);
      if (checkpoint.epoch === stopAfter) controller.abort('worker lost');
      return Promise.resolve();
    },
  }))).rejects.toMatchObject({ name: 'AbortError' });
  const resumedReports: EpochReport[] = [];
  const resumed = await runTraining(base({ resume: checkpoints.at(-1), onEpochEnd: (r) => Promise.resolve(void resumedReports.push(r)) }));
  return { straight: straight.model, resumed: resumed.model, reports: [straightReports, resumedReports] };
}

describe('exact resume with the training recipe on wasm', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('AdamW + weight decay + warmup/cosine + clipping + label smoothing + dropout: interrupted and resumed ends with the same weights', async () => {
    const spec: TrainSpec = {
      epochs: 4,
      batchSize: 32,
      learningRate: 3e-3,
      optimizer: 'adamw',
      weightDecay: 0.05,
      loss: { kind: 'cross-entropy', labelSmoothing: 0.1 },
      schedule: { kind: 'cosine', warmupEpochs: 1, minLearningRate: 1e-4 },
      clipNorm: 0.5,
      seed: 11,
    };
    const { straight, resumed, reports } = await straightAndResumed(spec, 2);
    expect(reports[1]!.map((r) => r.epoch)).toEqual([3, 4]);
    expect(reports[1]!.map((r) => r.loss)).toEqual(reports[0]!.slice(2).map((r) => r.loss));
    expect(await maxDifference(resumed, straight)).toBeLessThan(1e-6);
  });

  it('Nesterov SGD + L2 + step schedule + focal loss: interrupted and resumed ends with the same weights', async () => {
    const spec: TrainSpec = {
      epochs: 4,
      batchSize: 32,
      learningRate: 0.05,
      optimizer: 'sgd',
      momentum: 0.9,
      nesterov: true,
      weightDecay: 1e-3,
      loss: { kind: 'focal', alpha: 0.5, gamma: 2 },
      schedule: { kind: 'step', warmupEpochs: 1, stepEpochs: 1, gamma: 0.5 },
      seed: 12,
    };
    const { straight, resumed } = await straightAndResumed(spec, 1);
    expect(await maxDifference(resumed, straight)).toBeLessThan(1e-6);
  });

  it('early stopping resumes its patience count from the checkpoint', async () => {
    const spec: TrainSpec = {
      epochs: 6,
      batchSize: 32,
      learningRate: 3e-3,
      // val_loss falls about 1.25, 1.07, 0.79, ...: neither epoch 2 nor 3 beats epoch 1 by 0.6.
      earlyStopping: { patience: 2, monitor: 'val_loss', minDelta: 0.6 },
      seed: 13,
    };
    // Interrupted after epoch 2, one epoch into the wait: the resumed run must stop after epoch 3
    // (a fresh count would run to epoch 5), and both runs return the same best-epoch weights.
    const { straight, resumed, reports } = await straightAndResumed(spec, 2);
    expect(reports[0]!.map((r) => r.epoch)).toEqual([1, 2, 3]);
    expect(reports[1]!.map((r) => r.epoch)).toEqual([3]);
    expect(Array.from(resumed)).toEqual(Array.from(straight));
  });

  it('checkpoints carry the schedule position and seed; a different batch count or seed is refused', async () => {
    const spec: TrainSpec = { epochs: 1, batchSize: 32, learningRate: 3e-3, schedule: { kind: 'cosine' }, seed: 5 };
    const checkpoints: Checkpoint[] = [];
    await runTraining({ model: MODEL, spec, train: small, onEpochEnd: (_r, c) => Promise.resolve(void checkpoints.push(c)) });
    const state = decodeTrainState(checkpoints[0]!.optimizer, 1, 3, 5);
    expect(state).toMatchObject({ step: 3, stepsPerEpoch: 3, seed: 5 });
    const request = { model: MODEL, train: small, resume: checkpoints[0], onEpochEnd: () => Promise.resolve() };
    await expect(runTraining({ ...request, spec: { ...spec, epochs: 2, batchSize: 16 } }))
      .rejects.toThrow('resume checkpoint was written at step 3 with 3 batches per epoch, but this run has 6 batches per epoch (96 images in batches of 16)');
    await expect(runTraining({ ...request, spec: { ...spec, epochs: 2, seed: 6 } }))
      .rejects.toThrow('resume checkpoint was written with seed 5, but the run asks for seed 6');
  });

  it('still resumes checkpoints whose optimizer bytes predate the training-state section', async () => {
    const spec: TrainSpec = { epochs: 2, batchSize: 32, learningRate: 3e-3, seed: 5 };
    const checkpoints: Checkpoint[] = [];
    const straight = await runTraining({ model: MODEL, spec, train: small, onEpochEnd: (_r, c) => Promise.resolve(void checkpoints.push(c)) });
    const legacy: Checkpoint = { ...checkpoints[0]!, optimizer: decodeTrainState(checkpoints[0]!.optimizer, 1, 3, 5).optimizer.slice() };
    expect(String.fromCharCode(...legacy.optimizer.subarray(0, 4))).toBe('DVO1');
    const resumed = await runTraining({ model: MODEL, spec, train: small, resume: legacy, onEpochEnd: () => Promise.resolve() });
    expect(await maxDifference(resumed.model, straight.model)).toBe(0);
  });
});
