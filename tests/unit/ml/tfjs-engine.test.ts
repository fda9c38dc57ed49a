import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend.js';
import type { Checkpoint, EpochReport, ModelSpec, TrainRequest, TrainSpec } from '../../../src/ml/engine.js';
import { createTfjsEngine } from '../../../src/ml/tfjs-engine.js';
import { quadrantImages } from './synthetic-images.js';
import { maxDifference, weightsOf } from './weights.js';

const MODEL: ModelSpec = { architecture: 'small-cnn', inputShape: [16, 16, 1], numClasses: 4, widthMultiplier: 0.5 };
const SPEC: TrainSpec = { epochs: 2, batchSize: 32, learningRate: 3e-3, seed: 7 };
const train = quadrantImages(256, 1);
const val = quadrantImages(64, 2);
/** For checks that need several runs but not learning: keeps the cpu reference fast. */
const small = quadrantImages(96, 3);

function request(overrides: Partial<TrainRequest> = {}): TrainRequest {
  return { model: MODEL, spec: SPEC, train, val, onEpochEnd: () => Promise.resolve(), ...overrides };
}

// The same contract on every backend this machine has; cpu is the slow pure-JS reference.
describe.each(['wasm', 'cpu'] as const)('tfjs engine on %s', (backend) => {
  const engine = createTfjsEngine({ backend });
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('training two epochs on separable images improves loss and accuracy', async () => {
    const reports: EpochReport[] = [];
    const outcome = await engine.train(request({
      onEpochEnd: (report) => {
        reports.push(report);
        return Promise.resolve();
      },
    }));
    expect(engine.backend()).toBe(backend);
    expect(reports.map((r) => r.epoch)).toEqual([1, 2]);
    expect(outcome.history).toEqual(reports);
    expect(reports[1]!.loss).toBeLessThan(reports[0]!.loss);
    expect(reports[1]!.valAccuracy).toBeGreaterThan(0.9);
    expect(reports[0]!.imagesPerSecond).toBeGreaterThan(0);
    expect(outcome.paramsCount).toBe(await engine.paramsCount(MODEL));

    const probabilities = await engine.predict(outcome.model, val);
    expect(probabilities.length).toBe(val.count * 4);
    let correct = 0;
    for (let i = 0; i < val.count; i++) {
      const row = Array.from(probabilities.subarray(i * 4, i * 4 + 4));
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      if (row.indexOf(Math.max(...row)) === val.labels[i]) correct++;
    }
    expect(correct / val.count).toBeCloseTo(reports[1]!.valAccuracy!, 5);
  });

  it('1 epoch + checkpoint + resume 1 epoch equals 2 epochs straight', async () => {
    const straight = await engine.train(request({ train: small, val: undefined }));
    const checkpoints: Checkpoint[] = [];
    await engine.train(request({
      train: small,
      val: undefined,
      spec: { ...SPEC, epochs: 1 },
      onEpochEnd: (_report, checkpoint) => {
        checkpoints.push(checkpoint);
        return Promise.resolve();
      },
    }));
    expect(checkpoints.map((c) => c.epoch)).toEqual([1]);
    const reports: EpochReport[] = [];
    const resumed = await engine.train(request({
      train: small,
      val: undefined,
      resume: checkpoints[0],
      onEpochEnd: (report) => {
        reports.push(report);
        return Promise.resolve();
      },
    }));
    expect(reports.map((r) => r.epoch)).toEqual([2]);
    expect(maxDifference(await weightsOf(resumed.model), await weightsOf(straight.model))).toBeLessThan(1e-5);
  });

  it('leaves no tensors behind, during or after training', async () => {
    const before = tf.memory().numTensors;
    const atEpochEnd: number[] = [];
    await engine.train(request({
      train: small,
      onEpochEnd: () => {
        atEpochEnd.push(tf.memory().numTensors);
        return Promise.resolve();
      },
    }));
    expect(atEpochEnd[1]).toBe(atEpochEnd[0]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('tfjs engine on wasm: control and inference', () => {
  const engine = createTfjsEngine({ backend: 'wasm', progressEvery: 2 });

  it('stops at a batch boundary with an AbortError when aborted, leaking nothing', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const seen: number[] = [];
    const run = engine.train(request({
      signal: controller.signal,
      onProgress: (p) => {
        seen.push(p.batch);
        if (p.batch === 4) controller.abort();
      },
    }));
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toEqual([2, 4]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reports progress every few batches with the epoch batch count', async () => {
    const seen: string[] = [];
    await engine.train(request({
      spec: { ...SPEC, epochs: 1, batchSize: 60 },
      onProgress: (p) => seen.push(`${p.epoch}:${p.batch}/${p.batches}`),
    }));
    expect(seen).toEqual(['1:2/5', '1:4/5', '1:5/5']);
  });

  it('benchmarks throughput and batch-1 latency', async () => {
    const { model } = await engine.train(request({ spec: { ...SPEC, epochs: 1 } }));
    const bench = await engine.benchmark(model, val, { batchSize: 16, seconds: 0.4 });
    expect(bench.batchSize).toBe(16);
    expect(bench.throughputImgPerS).toBeGreaterThan(0);
    expect(bench.iterations).toBeGreaterThanOrEqual(10);
    expect(bench.latencyMs.p50).toBeGreaterThan(0);
    expect(bench.latencyMs.p95).toBeGreaterThanOrEqual(bench.latencyMs.p50);
  });

  it('rejects data that does not fit the model, naming the field', async () => {
    await expect(engine.train(request({ train: { ...train, shape: [28, 28, 1] } })))
      .rejects.toThrow('train.shape must equal the model inputShape [16, 16, 1], got [28, 28, 1]');
    await expect(engine.train(request({ train: { ...train, labels: Int32Array.from(train.labels, (l) => l + 4) } })))
      .rejects.toThrow('train.labels[0] must be in [0, 4), got 4');
    await expect(engine.train(request({ spec: { ...SPEC, epochs: 0 } })))
      .rejects.toThrow('spec.epochs must be an integer >= 1, got 0');
  });
});
