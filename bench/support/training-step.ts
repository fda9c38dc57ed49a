/**
 * What the step benchmarks share: each architecture at its benchmark shape with a batch of
 * synthetic images (`benchSetup`), and one training step as they time it (`trainingStep`).
 */
import * as tf from '@tensorflow/tfjs';
import { buildModel } from '../../src/ml/build-model.js';
import type { ArchitectureName } from '../../src/ml/engine.js';
import { BatchAssembler } from '../../src/ml/image-batches.js';
import { countCorrect, sparseSoftmaxCrossEntropy } from '../../src/ml/losses.js';

/** Input side, channels and batch size per architecture, as bench/train-vs-pytorch.ts runs them. */
export const BENCH_SHAPES: Record<string, { side: number; channels: number; batch: number }> = {
  'small-cnn': { side: 28, channels: 1, batch: 64 },
  'mobilenet-v3-small': { side: 96, channels: 3, batch: 32 },
  'resnet-18': { side: 64, channels: 3, batch: 32 },
};

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export interface BenchSetup {
  net: tf.LayersModel;
  /** One batch of deterministic synthetic images (scaled 0-1) and labels 0-9. */
  batches: BatchAssembler;
  batch: number;
  side: number;
  channels: number;
  variables: tf.Variable[];
}

/** `arch` (a BENCH_SHAPES key) built for 10 classes with seed 1, on the active backend. */
export function benchSetup(arch: string): BenchSetup {
  const shape = BENCH_SHAPES[arch];
  if (shape === undefined) throw new RangeError(`--arch must be one of ${Object.keys(BENCH_SHAPES).join(', ')}, got ${arch}`);
  const { side, channels, batch } = shape;
  const net = buildModel({ architecture: arch as ArchitectureName, inputShape: [side, side, channels], numClasses: 10 }, 1);
  const images = new Uint8Array(batch * side * side * channels).map((_, i) => (i * 2654435761) >>> 24);
  const batches = new BatchAssembler({ images, labels: Int32Array.from({ length: batch }, (_, i) => i % 10), count: batch, shape: [side, side, channels], scaling: '0-1' });
  return { net, batches, batch, side, channels, variables: net.trainableWeights.map((w) => w.read() as tf.Variable) };
}

/**
 * One training step as the benchmarks time it: the first `count` images of `batches` forward
 * and backward through `model`, accuracy counted as the training loop does, and `optimizer`
 * applied to `variables`. Returns the loss (the caller reads and disposes it).
 */
export function trainingStep(model: tf.LayersModel, optimizer: tf.Optimizer, batches: BatchAssembler, count: number, variables: tf.Variable[]): tf.Scalar {
  return tf.tidy(() => {
    const xs = batches.images(0, count);
    const labels = batches.labels(0, count);
    const { value, grads } = optimizer.computeGradients(() => {
      const logits = model.apply(xs, { training: true }) as tf.Tensor2D;
      countCorrect(logits, labels);
      return sparseSoftmaxCrossEntropy(logits, labels);
    }, variables);
    optimizer.applyGradients(variables.map((v) => ({ name: v.name, tensor: grads[v.name]! })));
    return value;
  });
}

/** `trainingStep`, with the loss read back (a sync point) and disposed. */
export function timedStep(model: tf.LayersModel, optimizer: tf.Optimizer, batches: BatchAssembler, count: number, variables: tf.Variable[]): void {
  const loss = trainingStep(model, optimizer, batches, count, variables);
  loss.dataSync();
  loss.dispose();
}
