/**
 * Prediction and the inference benchmark on model bytes. Each call loads its own model and
 * disposes it, so nothing stays on the backend between activities.
 */
import * as tf from '@tensorflow/tfjs';
import type { ImageBatchSource, InferenceBenchmark, ModelBytes } from './engine.js';
import { BatchAssembler, validateSource } from './image-batches.js';
import { modelFromBytes } from './model-bytes.js';
import { percentile } from '../core/metrics.js';

async function withModel<T>(bytes: ModelBytes, data: ImageBatchSource, use: (model: tf.LayersModel, classes: number) => T | Promise<T>): Promise<T> {
  const model = await modelFromBytes(bytes);
  try {
    const inShape = model.inputs[0]?.shape.slice(1) as number[] | undefined;
    const classes = model.outputs[0]?.shape[1];
    if (inShape === undefined || typeof classes !== 'number') throw new Error('model bytes hold a model without one image input and one class output');
    validateSource(data, 'data', inShape);
    return await use(model, classes);
  } finally {
    model.dispose();
  }
}

/** Softmax probabilities, `count * classes`, row-major. */
export function predictProbabilities(bytes: ModelBytes, data: ImageBatchSource, batchSize = 256): Promise<Float32Array> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be an integer >= 1, got ${batchSize}`);
  return withModel(bytes, data, (model, classes) => {
    const out = new Float32Array(data.count * classes);
    const batches = new BatchAssembler(data);
    for (let start = 0; start < data.count; start += batchSize) {
      const count = Math.min(batchSize, data.count - start);
      const probabilities = tf.tidy(() => tf.softmax(model.apply(batches.images(start, count), { training: false }) as tf.Tensor2D));
      out.set(probabilities.dataSync(), start * classes);
      probabilities.dispose();
    }
    return out;
  });
}

/** Runs `step` until `seconds` have passed and at least `minRuns` runs are done; returns each run's ms. */
function timeRuns(seconds: number, minRuns: number, step: (run: number) => void): number[] {
  const times: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  while (times.length < minRuns || performance.now() < deadline) {
    const t0 = performance.now();
    step(times.length);
    times.push(performance.now() - t0);
  }
  return times;
}

/**
 * Throughput at `batchSize` for half of `seconds`, then batch-1 latency for the other half.
 * Inputs are prepared before timing; each timed run includes reading the output back.
 * `iterations` counts the timed batch-1 runs behind the latency figures.
 */
export function benchmarkInference(
  bytes: ModelBytes,
  data: ImageBatchSource,
  options: { batchSize?: number; seconds?: number } = {},
): Promise<InferenceBenchmark> {
  const batchSize = options.batchSize ?? 64;
  const seconds = options.seconds ?? 4;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`benchmark batchSize must be an integer >= 1, got ${batchSize}`);
  if (!(seconds > 0)) throw new Error(`benchmark seconds must be > 0, got ${seconds}`);
  return withModel(bytes, data, (model) => {
    const batches = new BatchAssembler(data);
    const order = Int32Array.from({ length: batchSize }, (_, i) => i % data.count);
    const batch = batches.images(0, batchSize, order);
    const singles = Array.from({ length: Math.min(16, data.count) }, (_, i) => batches.images(i, 1));
    const run = (x: tf.Tensor) => {
      const y = model.apply(x, { training: false }) as tf.Tensor;
      y.dataSync();
      y.dispose();
    };
    try {
      // Warm-up: the first calls create backend operators and caches.
      for (let i = 0; i < 2; i++) {
        run(batch);
        run(singles[0]!);
      }
      const batchTimes = timeRuns(seconds / 2, 3, () => run(batch));
      const totalMs = batchTimes.reduce((a, b) => a + b, 0);
      const latencies = timeRuns(seconds / 2, 10, (i) => run(singles[i % singles.length]!));
      return {
        throughputImgPerS: (batchTimes.length * batchSize) / (totalMs / 1000),
        batchSize,
        latencyMs: {
          p50: percentile(latencies, 50),
          p95: percentile(latencies, 95),
          mean: latencies.reduce((a, b) => a + b, 0) / latencies.length,
        },
        iterations: latencies.length,
      };
    } finally {
      tf.dispose([batch, ...singles]);
    }
  });
}
