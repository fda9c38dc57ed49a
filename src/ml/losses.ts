/**
 * Losses and batch metrics on logits. Sparse labels go through oneHot rather than a gather:
 * the gather's gradient needs UnsortedSegmentSum, which the wasm backend does not have, and
 * softmaxCrossEntropy's fused gradient (softmax - onehot) is cheaper anyway. The focal loss
 * likewise picks p_t with a one-hot mask and a row sum, and raises (1 - p_t) to gamma as
 * exp(gamma * log(.)) of a clamped base, which differentiates with kernels wasm has.
 */
import * as tf from '@tensorflow/tfjs';
import type { LossSpec } from './engine.js';

/** Mean sparse categorical cross-entropy of `logits` [n, classes] against int labels [n]. */
export function sparseSoftmaxCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, labelSmoothing = 0): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[1];
    const targets = tf.oneHot(labels, classes);
    // tfjs smooths as targets * (1 - eps) + eps / classes.
    return tf.losses.softmaxCrossEntropy(targets, logits, undefined, labelSmoothing) as tf.Scalar;
  });
}

/** Smallest 1 - p_t the focal modulating factor sees, so its log (and gradient) stays finite. */
const FOCAL_FLOOR = 1e-7;

/**
 * Mean focal loss (Lin et al. 2017) on softmax probabilities:
 * -alpha * (1 - p_t)^gamma * log(p_t), p_t the probability of the true class.
 */
export function sparseFocalLoss(logits: tf.Tensor2D, labels: tf.Tensor1D, alpha = 0.25, gamma = 2): tf.Scalar {
  return tf.tidy(() => {
    const classes = logits.shape[1];
    const mask = tf.oneHot(labels, classes).toFloat();
    const logP = tf.logSoftmax(logits);
    const logPt = tf.sum(tf.mul(mask, logP), 1);
    const ce = tf.neg(logPt);
    if (gamma === 0) return tf.mul(tf.mean(ce), alpha) as tf.Scalar;
    const oneMinusPt = tf.maximum(tf.sub(1, tf.exp(logPt)), FOCAL_FLOOR);
    const modulator = tf.exp(tf.mul(tf.log(oneMinusPt), gamma));
    return tf.mul(tf.mean(tf.mul(modulator, ce)), alpha) as tf.Scalar;
  });
}

export function validateLoss(loss: LossSpec): void {
  if (loss.kind === 'cross-entropy') {
    const eps = loss.labelSmoothing ?? 0;
    if (!(eps >= 0 && eps < 1)) throw new Error(`spec.loss.labelSmoothing must be in [0, 1), got ${loss.labelSmoothing}`);
  } else if (loss.kind === 'focal') {
    const alpha = loss.alpha ?? 0.25;
    const gamma = loss.gamma ?? 2;
    if (!(alpha > 0 && Number.isFinite(alpha))) throw new Error(`spec.loss.alpha must be a finite number > 0, got ${loss.alpha}`);
    if (!(gamma >= 0 && Number.isFinite(gamma))) throw new Error(`spec.loss.gamma must be a finite number >= 0, got ${loss.gamma}`);
  } else {
    throw new Error(`spec.loss.kind must be 'cross-entropy' or 'focal', got ${JSON.stringify((loss as { kind: unknown }).kind)}`);
  }
}

/** The training objective `spec` names, on logits and int labels. */
export function trainingLoss(spec: LossSpec | undefined, logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  if (spec === undefined || spec.kind === 'cross-entropy') return sparseSoftmaxCrossEntropy(logits, labels, spec?.labelSmoothing ?? 0);
  return sparseFocalLoss(logits, labels, spec.alpha ?? 0.25, spec.gamma ?? 2);
}

/** Number of rows whose arg-max equals the label, as an int32 scalar. */
export function countCorrect(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'int32')));
}
