/**
 * Losses and batch metrics on logits. Sparse labels go through oneHot rather than a gather:
 * the gather's gradient needs UnsortedSegmentSum, which the wasm backend does not have, and
 * softmaxCrossEntropy's fused gradient (softmax - onehot) is cheaper anyway.
 */
import * as tf from '@tensorflow/tfjs';

/** Mean sparse categorical cross-entropy of `logits` [n, classes] against int labels [n]. */
export function sparseSoftmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[1];
    const targets = tf.oneHot(labels, classes);
    return tf.losses.softmaxCrossEntropy(targets, logits) as tf.Scalar;
  });
}

/** Number of rows whose arg-max equals the label, as an int32 scalar. */
export function countCorrect(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'int32')));
}
