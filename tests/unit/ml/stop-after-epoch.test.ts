import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend.js';
import type { Checkpoint, EpochReport, ModelSpec, TrainRequest, TrainSpec } from '../../../src/ml/engine.js';
import { runTraining } from '../../../src/ml/train-loop.js';
import { quadrantImages } from './synthetic-images.js';
import { maxDifference, weightsOf } from './weights.js';

const MODEL: ModelSpec = { architecture: 'small-cnn', inputShape: [16, 16, 1], numClasses: 4, widthMultiplier: 0.5, dropout: 0.3 };
const train = quadrantImages(96, 3);
const val = quadrantImages(40, 4);
// A cosine schedule over 4 epochs: a rung that restarted the schedule would take other steps.
const SPEC: TrainSpec = { epochs: 4, batchSize: 32, learningRate: 3e-3, schedule: { kind: 'cosine', warmupEpochs: 1 }, seed: 21 };

describe('TrainSpec.stopAfterEpoch (rung-by-rung training)', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('2 epochs, then resumed to 4, equals 4 uninterrupted epochs', async () => {
    const request = (spec: TrainSpec, onEpochEnd: TrainRequest['onEpochEnd'], resume?: Checkpoint): TrainRequest => ({
      model: MODEL, spec, train, val, onEpochEnd, ...(resume ? { resume } : {}),
    });
    const straightReports: EpochReport[] = [];
    const straight = await runTraining(request(SPEC, (r) => Promise.resolve(void straightReports.push(r))));

    const checkpoints: Checkpoint[] = [];
    const rung1 = await runTraining(request({ ...SPEC, stopAfterEpoch: 2 }, (_r, c) => Promise.resolve(void checkpoints.push(c))));
    expect(rung1.history.map((h) => h.epoch)).toEqual([1, 2]);
    expect(checkpoints.map((c) => c.epoch)).toEqual([1, 2]);
    // The returned model is epoch 2's weights, not a model trained further.
    expect(Buffer.from(rung1.model).equals(Buffer.from(checkpoints[1]!.model))).toBe(true);

    const rung2 = await runTraining(request({ ...SPEC, stopAfterEpoch: 4 }, () => Promise.resolve(), checkpoints[1]));
    expect(rung2.history.map((h) => h.epoch)).toEqual([3, 4]);
    expect(rung2.history.map((h) => h.loss)).toEqual(straightReports.slice(2).map((r) => r.loss));
    expect(maxDifference(await weightsOf(rung2.model), await weightsOf(straight.model))).toBeLessThan(1e-6);
  });

  it('a resume already at stopAfterEpoch trains nothing and returns the checkpoint weights', async () => {
    const checkpoints: Checkpoint[] = [];
    await runTraining({ model: MODEL, spec: { ...SPEC, stopAfterEpoch: 1 }, train, onEpochEnd: (_r, c) => Promise.resolve(void checkpoints.push(c)) });
    const again = await runTraining({ model: MODEL, spec: { ...SPEC, stopAfterEpoch: 1 }, train, resume: checkpoints[0], onEpochEnd: () => Promise.reject(new Error('no epoch may run')) });
    expect(again.history).toEqual([]);
    expect(Buffer.from(again.model).equals(Buffer.from(checkpoints[0]!.model))).toBe(true);
  });

  it('refuses a stopAfterEpoch outside 1..epochs, naming the value', async () => {
    const run = (stopAfterEpoch: number) => runTraining({ model: MODEL, spec: { ...SPEC, stopAfterEpoch }, train, onEpochEnd: () => Promise.resolve() });
    await expect(run(5)).rejects.toThrow('spec.stopAfterEpoch must be an integer from 1 to spec.epochs (4), got 5');
    await expect(run(0)).rejects.toThrow('got 0');
    await expect(run(1.5)).rejects.toThrow('got 1.5');
  });
});
