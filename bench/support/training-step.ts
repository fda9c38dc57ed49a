/**
 * One training step as the benchmarks time it: the first `count` images of `batches` forward
 * and backward through `model`, accuracy counted as the training loop does, and `optimizer`
 * applied to `variables`. Returns the loss (the caller reads and disposes it).
 */
import * as tf from '@tensorflow/tfjs';
import type { BatchAssembler } from '../../src/ml/image-batches.js';
import { countCorrect, sparseSoftmaxCrossEntropy } from '../../src/ml/losses.js';

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
