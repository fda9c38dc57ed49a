import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend.js';
import type { Checkpoint, EpochReport, ModelSpec, TrainRequest, TrainSpec } from '../../../src/ml/engine.js';
import { modelFromBytes } from '../../../src/ml/model-bytes.js';
import { learningRateAt } from '../../../src/ml/schedule.js';
import { type StepInfo, TrainingDivergedError, runTraining } from '../../../src/ml/train-loop.js';
import { decodeTrainState } from '../../../src/ml/train-state.js';
import { quadrantImages } from './synthetic-images.js';

const MODEL: ModelSpec = { architecture: 'small-cnn', inputShape: [16, 16, 1], numClasses: 4, widthMultiplier: 0.5 };
const SPEC: TrainSpec = { epochs: 3, batchSize: 32, learningRate: 3e-3, seed: 7 };
const small = quadrantImages(96, 3);
const val = quadrantImages(40, 4);

function request(overrides: Partial<TrainRequest> = {}): TrainRequest {
  return { model: MODEL, spec: SPEC, train: small, onEpochEnd: () => Promise.resolve(), ...overrides };
}

async function allFinite(bytes: Uint8Array): Promise<boolean> {
  const model = await modelFromBytes(bytes);
  const ok = model.getWeights().every((w) => w.dataSync().every(Number.isFinite));
  model.dispose();
  return ok;
}

describe('training recipe on wasm', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('applies the scheduled learning rate at every global step', async () => {
    const spec: TrainSpec = { ...SPEC, optimizer: 'sgd', momentum: 0.9, nesterov: true, schedule: { kind: 'cosine', warmupEpochs: 1, minLearningRate: 1e-4 } };
    const steps: StepInfo[] = [];
    await runTraining(request({ spec }), { onStep: (s) => steps.push(s) });
    expect(steps.map((s) => s.step)).toEqual([...Array(9).keys()]);
    steps.forEach((s) => expect(s.learningRate).toBe(learningRateAt(spec, s.step, 3)));
    expect(steps[0]!.learningRate).toBeCloseTo(1e-3, 12);
    expect(steps[2]!.learningRate).toBeCloseTo(3e-3, 15);
  });

  it('the full recipe leaves the tensor count unchanged across epochs and after the run', async () => {
    const before = tf.memory().numTensors;
    const atEpochEnd: number[] = [];
    await runTraining(request({
      val,
      spec: {
        ...SPEC,
        optimizer: 'adamw',
        weightDecay: 0.05,
        clipNorm: 1,
        loss: { kind: 'focal', gamma: 2 },
        schedule: { kind: 'step', warmupEpochs: 1, stepEpochs: 1, gamma: 0.5 },
        earlyStopping: { patience: 5 },
      },
      onEpochEnd: () => {
        atEpochEnd.push(tf.memory().numTensors);
        return Promise.resolve();
      },
    }));
    expect(atEpochEnd).toHaveLength(3);
    expect(new Set(atEpochEnd).size).toBe(1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a diverging run stops with TrainingDivergedError naming epoch, step and the last good checkpoint', async () => {
    const before = tf.memory().numTensors;
    const first: Checkpoint[] = [];
    await runTraining(request({
      spec: { ...SPEC, epochs: 1 },
      onEpochEnd: (_report, checkpoint) => {
        first.push(checkpoint);
        return Promise.resolve();
      },
    }));
    // Resumed with a rate so large that the next forward pass overflows float32.
    const checkpoints: Checkpoint[] = [];
    const steps: StepInfo[] = [];
    const error = await runTraining(request({
      spec: { ...SPEC, epochs: 5, learningRate: 1e20 },
      resume: first[0],
      onEpochEnd: (_report, checkpoint) => {
        checkpoints.push(checkpoint);
        return Promise.resolve();
      },
    }), { onStep: (s) => steps.push(s) }).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingDivergedError);
    const diverged = error as TrainingDivergedError;
    expect(diverged.name).toBe('TrainingDivergedError');
    // Temporal names the failure type after the constructor.
    expect(diverged.constructor.name).toBe('TrainingDivergedError');
    expect(diverged.epoch).toBe(2);
    expect(diverged.lastGoodEpoch).toBe(1);
    expect(checkpoints).toEqual([]);
    // Steps 1-3 were epoch 1; the first resumed step (4) applied the huge rate, the next one diverged.
    expect(steps.map((s) => s.step)).toEqual([3]);
    expect(diverged.step).toBe(5);
    expect(diverged.message).toMatch(/^training diverged: the loss is NaN at epoch 2, step 5 \(batch 2 of 3, learning rate 100000000000000000000\); the last good checkpoint is epoch 1\./);

    // From scratch, nothing was checkpointed, and the message says so.
    const fresh = await runTraining(request({
      spec: { ...SPEC, learningRate: 1e20 },
      onEpochEnd: (_report, checkpoint) => {
        checkpoints.push(checkpoint);
        return Promise.resolve();
      },
    })).then(() => undefined, (e: unknown) => e);
    expect(fresh).toBeInstanceOf(TrainingDivergedError);
    expect((fresh as Error).message).toContain('at epoch 1, step 2 ');
    expect((fresh as Error).message).toContain('no checkpoint was written before it');
    expect(checkpoints).toEqual([]);
    expect(await allFinite(first[0]!.model)).toBe(true);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('early stopping stops after `patience` epochs without improvement and returns the best epoch', async () => {
    const reports: EpochReport[] = [];
    const checkpoints: Checkpoint[] = [];
    // A rate this low barely moves val_accuracy, so it stops improving by 0.5 after epoch 1.
    const outcome = await runTraining(request({
      val,
      spec: { ...SPEC, epochs: 10, learningRate: 1e-6, earlyStopping: { patience: 2, monitor: 'val_accuracy', minDelta: 0.5 } },
      onEpochEnd: (report, checkpoint) => {
        reports.push(report);
        checkpoints.push(checkpoint);
        return Promise.resolve();
      },
    }));
    expect(outcome.history.map((r) => r.epoch)).toEqual([1, 2, 3]);
    expect(Buffer.from(outcome.model).equals(Buffer.from(checkpoints[0]!.model))).toBe(true);
    const state = decodeTrainState(checkpoints[2]!.optimizer, 3, 3, SPEC.seed);
    expect(state.earlyStopping).toEqual({ best: reports[0]!.valAccuracy, bestEpoch: 1, wait: 2, stopped: true });
    expect(Buffer.from(state.bestModel!).equals(Buffer.from(checkpoints[0]!.model))).toBe(true);
    // Resuming from the stopping checkpoint trains no further and returns the same best model.
    const resumed = await runTraining(request({
      val,
      spec: { ...SPEC, epochs: 10, learningRate: 1e-6, earlyStopping: { patience: 2, monitor: 'val_accuracy', minDelta: 0.5 } },
      resume: checkpoints[2],
    }));
    expect(resumed.history).toEqual([]);
    expect(Buffer.from(resumed.model).equals(Buffer.from(checkpoints[0]!.model))).toBe(true);
  });

  it('rejects recipe settings that cannot work, naming the field', async () => {
    await expect(runTraining(request({ spec: { ...SPEC, earlyStopping: { patience: 1 } } })))
      .rejects.toThrow('spec.earlyStopping needs validation data (val), which this run does not have');
    await expect(runTraining(request({ spec: { ...SPEC, optimizer: 'adam', nesterov: true } })))
      .rejects.toThrow("spec.nesterov applies to the 'sgd' optimizer, got optimizer \"adam\"");
    await expect(runTraining(request({ spec: { ...SPEC, clipNorm: 0 } }))).rejects.toThrow('spec.clipNorm must be a finite number > 0, got 0');
    await expect(runTraining(request({ spec: { ...SPEC, weightDecay: -1 } }))).rejects.toThrow('spec.weightDecay must be a finite number >= 0, got -1');
  });
});
