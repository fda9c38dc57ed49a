/**
 * Engine parity on MNIST: the same ModelSpec and TrainSpec trained by the tfjs engine (wasm)
 * and by the torch engine (PyTorch CPU child), each model's accuracy measured on the 10,000
 * MNIST test images. Target: accuracies within 0.5 points.
 *
 *   node bin/run-ts.mjs bench/engine-parity.ts [--train 20000] [--epochs 2] [--seeds 1,2]
 *     [--threads 2] [--recipe plain|full]
 *
 * plain: Adam 1e-3, batch 64, cross-entropy. full: AdamW 2e-3 with weight decay 0.01, label
 * smoothing 0.1, 1-epoch warmup then cosine (examples/mnist-99.yaml without augmentation).
 * The engines draw different initial weights, shuffles and dropout masks from the same seed, so
 * the comparison is of what each reaches, not of identical runs; several seeds show the spread.
 */
import { parseArgs } from 'node:util';
import { readMnistSplit } from '../src/data/mnist-idx.js';
import type { ImageBatchSource, ModelSpec, TrainSpec, TrainingEngine } from '../src/ml/engine.js';
import { createTfjsEngine } from '../src/ml/tfjs-engine.js';
import { createTorchEngine } from '../src/ml/torch-engine.js';

const MODEL: ModelSpec = { architecture: 'small-cnn', inputShape: [28, 28, 1], numClasses: 10 };

async function mnist(split: 'train' | 'test', limit?: number): Promise<ImageBatchSource> {
  const data = await readMnistSplit(split);
  const count = Math.min(limit ?? data.count, data.count);
  return { images: data.pixels.subarray(0, count * 784), labels: Int32Array.from(data.labels.subarray(0, count)), count, shape: [28, 28, 1], scaling: '0-1' };
}

function accuracy(probabilities: Float32Array, data: ImageBatchSource): number {
  let correct = 0;
  for (let i = 0; i < data.count; i++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if (probabilities[i * 10 + k]! > probabilities[i * 10 + best]!) best = k;
    if (best === data.labels[i]) correct++;
  }
  return correct / data.count;
}

async function trainAndTest(engine: TrainingEngine, spec: TrainSpec, train: ImageBatchSource, test: ImageBatchSource): Promise<{ accuracy: number; imgPerS: number; seconds: number }> {
  const started = performance.now();
  const outcome = await engine.train({ model: MODEL, spec, train, onEpochEnd: () => Promise.resolve() });
  const seconds = (performance.now() - started) / 1000;
  return { accuracy: accuracy(await engine.predict(outcome.model, test), test), imgPerS: outcome.history.at(-1)!.imagesPerSecond, seconds };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      train: { type: 'string', default: '20000' }, epochs: { type: 'string', default: '2' }, seeds: { type: 'string', default: '1' },
      threads: { type: 'string', default: '2' }, recipe: { type: 'string', default: 'plain' },
    },
  });
  const threads = Number(values.threads);
  const epochs = Number(values.epochs);
  if (values.recipe !== 'plain' && values.recipe !== 'full') throw new Error(`--recipe must be plain or full, got ${values.recipe}`);
  const base: Omit<TrainSpec, 'seed'> = values.recipe === 'plain'
    ? { epochs, batchSize: 64, learningRate: 1e-3 }
    : { epochs, batchSize: 64, learningRate: 2e-3, optimizer: 'adamw', weightDecay: 0.01, loss: { kind: 'cross-entropy', labelSmoothing: 0.1 }, schedule: { kind: 'cosine', warmupEpochs: 1 } };
  const [train, test] = await Promise.all([mnist('train', Number(values.train)), mnist('test')]);
  const tfjs = createTfjsEngine({ backend: 'wasm', wasmThreads: threads });
  const torch = createTorchEngine({ device: 'cpu', threads });
  console.log(`engine parity: small-cnn on ${train.count} MNIST training images, ${epochs} epochs, recipe ${values.recipe}, ${threads} threads; test on ${test.count}`);
  const gaps: number[] = [];
  try {
    for (const seed of values.seeds.split(',').map(Number)) {
      const spec: TrainSpec = { ...base, seed };
      const a = await trainAndTest(tfjs, spec, train, test);
      const b = await trainAndTest(torch, spec, train, test);
      gaps.push(Math.abs(a.accuracy - b.accuracy) * 100);
      console.log(`seed ${seed}: tfjs ${(a.accuracy * 100).toFixed(2)} % (${a.imgPerS.toFixed(0)} img/s, ${a.seconds.toFixed(0)} s), `
        + `torch ${(b.accuracy * 100).toFixed(2)} % (${b.imgPerS.toFixed(0)} img/s, ${b.seconds.toFixed(0)} s), gap ${gaps.at(-1)!.toFixed(2)} points`);
    }
  } finally {
    await torch.close();
  }
  const worst = Math.max(...gaps);
  console.log(`largest gap ${worst.toFixed(2)} points: ${worst <= 0.5 ? 'within' : 'NOT within'} the 0.5-point target`);
}

await main();
