/**
 * One contract, every engine: the tfjs engine (wasm) and the torch engine (PyTorch child
 * process, CPU, one thread) train, checkpoint, resume, predict, benchmark, cancel and guard
 * against divergence the same way, as the activities rely on. The torch engine is skipped, with
 * the reason printed, only when PyTorch cannot start here (`node scripts/install-torch.mjs`
 * installs it; `npm test` runs that first).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import type { Checkpoint, EpochReport, ImageBatchSource, ModelSpec, TrainRequest, TrainSpec, TrainingEngine } from '../../src/ml/engine.js';
import { benchmarkOnnx } from '../../src/ml/onnx-benchmark.js';
import { createTfjsEngine } from '../../src/ml/tfjs-engine.js';
import { createTorchEngine } from '../../src/ml/torch-engine.js';
import { TrainingDivergedError } from '../../src/ml/train-loop.js';
import { quadrantImages } from '../unit/ml/synthetic-images.js';

const MODEL: ModelSpec = { architecture: 'small-cnn', inputShape: [16, 16, 1], numClasses: 4, widthMultiplier: 0.5 };
const SPEC: TrainSpec = { epochs: 2, batchSize: 32, learningRate: 3e-3, seed: 7 };
const train = quadrantImages(200, 1);
const val = quadrantImages(64, 2);

const torch = createTorchEngine({ device: 'cpu', threads: 1, progressEvery: 2 });
const torchSkip = await torch.start().then(() => undefined, (error: unknown) => String(error));
if (torchSkip !== undefined) console.warn(`engine contract: torch engine SKIPPED: ${torchSkip}`);

const ENGINES: { name: string; engine: TrainingEngine; skip?: string }[] = [
  { name: 'tfjs', engine: createTfjsEngine({ backend: 'wasm', wasmThreads: 1, progressEvery: 2 }) },
  { name: 'torch', engine: torch, ...(torchSkip !== undefined ? { skip: torchSkip } : {}) },
];

function request(overrides: Partial<TrainRequest> = {}): TrainRequest {
  return { model: MODEL, spec: SPEC, train, val, onEpochEnd: () => Promise.resolve(), ...overrides };
}

function rows(probabilities: Float32Array, classes: number): number[][] {
  return Array.from({ length: probabilities.length / classes }, (_, i) => Array.from(probabilities.subarray(i * classes, (i + 1) * classes)));
}

function accuracy(probabilities: Float32Array, data: ImageBatchSource, classes: number): number {
  return rows(probabilities, classes).filter((row, i) => row.indexOf(Math.max(...row)) === data.labels[i]).length / data.count;
}

afterAll(async () => {
  await torch.close();
});

describe.each(ENGINES)('engine contract: $name', ({ engine, skip }) => {
  it.skipIf(skip !== undefined)('trains 2 epochs with a checkpoint each, then predicts probabilities that match the last validation', async () => {
    const reports: EpochReport[] = [];
    const checkpoints: Checkpoint[] = [];
    const progress: number[] = [];
    const outcome = await engine.train(request({
      onProgress: (p) => progress.push(p.epoch),
      onEpochEnd: (report, checkpoint) => {
        reports.push(report);
        checkpoints.push(checkpoint);
        return Promise.resolve();
      },
    }));
    expect(engine.backend()).not.toBe('uninitialised');
    expect(reports.map((r) => r.epoch)).toEqual([1, 2]);
    expect(checkpoints.map((c) => c.epoch)).toEqual([1, 2]);
    expect(checkpoints.every((c) => c.model.length > 0 && c.optimizer.length > 0)).toBe(true);
    expect(outcome.history).toEqual(reports);
    expect(new Set(progress)).toEqual(new Set([1, 2]));
    expect(reports[1]!.loss).toBeLessThan(reports[0]!.loss);
    expect(reports[1]!.valAccuracy).toBeGreaterThan(0.9);
    expect(reports[0]!.imagesPerSecond).toBeGreaterThan(0);
    expect(outcome.paramsCount).toBe(await engine.paramsCount(MODEL));

    const probabilities = await engine.predict(outcome.model, val);
    expect(probabilities.length).toBe(val.count * 4);
    for (const row of rows(probabilities, 4)) expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(accuracy(probabilities, val, 4)).toBeCloseTo(reports[1]!.valAccuracy!, 5);

    const bench = await engine.benchmark(outcome.model, val, { batchSize: 16, seconds: 0.4 });
    expect(bench.throughputImgPerS).toBeGreaterThan(0);
    expect(bench.batchSize).toBe(16);
    expect(bench.latencyMs.p50).toBeGreaterThan(0);
    expect(bench.latencyMs.p95).toBeGreaterThanOrEqual(bench.latencyMs.p50);
    expect(bench.iterations).toBeGreaterThanOrEqual(10);
  });

  it.skipIf(skip !== undefined)('stopping after epoch 1 and resuming from its checkpoint equals 2 epochs straight', async () => {
    const straight = await engine.train(request({ val: undefined }));
    const first: Checkpoint[] = [];
    await engine.train(request({
      val: undefined,
      spec: { ...SPEC, stopAfterEpoch: 1 },
      onEpochEnd: (_r, checkpoint) => {
        first.push(checkpoint);
        return Promise.resolve();
      },
    }));
    expect(first.map((c) => c.epoch)).toEqual([1]);
    const resumed = await engine.train(request({ val: undefined, resume: first[0] }));
    expect(resumed.history.map((h) => h.epoch)).toEqual([2]);
    const [a, b] = await Promise.all([engine.predict(straight.model, val), engine.predict(resumed.model, val)]);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    expect(worst).toBeLessThan(1e-4);
  });

  it.skipIf(skip !== undefined)('precision bf16 trains in fp32 where the engine or device has no bf16 autocast (the CPU): the same model as fp32', async () => {
    const fp32 = await engine.train(request({ val: undefined, spec: { ...SPEC, epochs: 1 } }));
    const bf16 = await engine.train(request({ val: undefined, spec: { ...SPEC, epochs: 1, precision: 'bf16' } }));
    expect(bf16.history.map((h) => h.loss)).toEqual(fp32.history.map((h) => h.loss));
  });

  it.skipIf(skip !== undefined)('an aborted run stops with an AbortError carrying the reason', async () => {
    const controller = new AbortController();
    const error = await engine.train(request({
      spec: { ...SPEC, epochs: 50 },
      signal: controller.signal,
      onProgress: () => controller.abort(new Error('user stop')),
    })).then(() => undefined, (e: unknown) => e as Error);
    expect(error?.name).toBe('AbortError');
    expect((error?.cause as Error | undefined)?.message).toBe('user stop');
    // The engine still works after an abort.
    expect(await engine.paramsCount(MODEL)).toBeGreaterThan(0);
  });

  it.skipIf(skip !== undefined)('a diverging run fails with TrainingDivergedError naming epoch and step', async () => {
    const checkpoints: Checkpoint[] = [];
    const error = await engine.train(request({
      spec: { ...SPEC, learningRate: 1e20 },
      onEpochEnd: (_r, c) => {
        checkpoints.push(c);
        return Promise.resolve();
      },
    })).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingDivergedError);
    const diverged = error as TrainingDivergedError;
    expect(diverged.name).toBe('TrainingDivergedError');
    expect(diverged.epoch).toBeGreaterThanOrEqual(1);
    expect(diverged.step).toBeGreaterThanOrEqual(1);
    expect(diverged.message).toMatch(new RegExp(`epoch ${diverged.epoch}, step ${diverged.step}`));
    expect(checkpoints).toEqual([]);
  });
});

describe('torch engine without PyTorch', () => {
  it('names what to install when Python cannot be started', async () => {
    const missing = createTorchEngine({ python: '/nonexistent/python3' });
    const error = await missing.paramsCount(MODEL).then(() => undefined, (e: unknown) => e as Error);
    expect(error?.message).toMatch(/Python 3 was not found \(tried "\/nonexistent\/python3"\)/);
    expect(error?.message).toMatch(/node scripts\/install-torch\.mjs/);
    expect(error?.message).toMatch(/python3-torch python3-torchvision/);
  });

  it('names what to install when the interpreter exits before torch is ready', async () => {
    const engine = createTorchEngine({ python: '/usr/bin/env' });
    // `env -m ...` is not Python: the child exits before it is ready, and the error says what to do.
    const error = await engine.start().then(() => undefined, (e: unknown) => e as Error);
    expect(error?.message).toMatch(/could not start .* -m durable_vision_torch/);
    expect(error?.message).toMatch(/node scripts\/install-torch\.mjs/);
  });
});

describe.skipIf(torchSkip !== undefined)('torch engine: ONNX deployment', () => {
  it('exports a trained model whose onnxruntime-node probabilities match the engine, and benchmarks it', async () => {
    const trained = await torch.train(request({ spec: { ...SPEC, epochs: 1 } }));
    const dir = await mkdtemp(path.join(tmpdir(), 'dv-onnx-test-'));
    try {
      const file = path.join(dir, 'model.onnx');
      const exported = await torch.exportOnnx(trained.model, file);
      const session = await ort.InferenceSession.create(file);
      const pixels = Float32Array.from(val.images.subarray(0, 8 * 256), (v) => v / 255);
      const out = await session.run({ [exported.inputName]: new ort.Tensor('float32', pixels, [8, 16, 16, 1]) });
      const fromOnnx = out[exported.outputName]!.data as Float32Array;
      const fromEngine = (await torch.predict(trained.model, val)).subarray(0, 8 * 4);
      let worst = 0;
      for (let i = 0; i < fromEngine.length; i++) worst = Math.max(worst, Math.abs(fromOnnx[i]! - fromEngine[i]!));
      expect(worst).toBeLessThan(1e-5);
      await session.release();

      const bench = await benchmarkOnnx(file, val, { batchSize: 16, seconds: 0.4, threads: 1 });
      expect(bench.throughputImgPerS).toBeGreaterThan(0);
      expect(bench.latencyMs.p95).toBeGreaterThanOrEqual(bench.latencyMs.p50);
      expect(bench.runtime).toMatch(/^onnxruntime-node \d+\.\d+\.\d+ \(cpu\)$/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
