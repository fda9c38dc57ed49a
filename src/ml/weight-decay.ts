/**
 * Weight decay and gradient clipping for the custom training loop.
 *
 * Which variables decay: those of rank >= 2 (convolution and dense kernels, embeddings) whose
 * name does not mark them as a bias, a normalisation scale/shift, a position embedding or a
 * class token. Rank-1 variables are biases and BatchNorm/LayerNorm gamma/beta in every
 * architecture here, so the rank rule alone covers them; the name rule catches ViT's position
 * embeddings and class token, which are rank >= 2 but are not weights in the usual sense.
 *
 * - 'adam' / 'sgd': classic L2, `g += wd * w` on the gradient before the optimizer step.
 * - 'adamw': decoupled (Loshchilov & Hutter), `w -= lr_t * wd * w` after the Adam step, with
 *   lr_t the scheduled rate of that step (as PyTorch's AdamW does).
 */
import * as tf from '@tensorflow/tfjs';

const NO_DECAY_NAME = /(^|[/_])(bias|gamma|beta|pos(ition)?_?(embed(ding)?s?)?|cls_?token|class_?token)(_\d+)?$/i;

/** Whether a variable with this name and shape takes weight decay. */
export function decays(name: string, shape: readonly number[]): boolean {
  return shape.length >= 2 && !NO_DECAY_NAME.test(name);
}

/** Adds `weightDecay * w` to each decaying variable's gradient; returns new gradient tensors (caller tidies). */
export function addL2(grads: tf.Tensor[], variables: tf.Variable[], mask: boolean[], weightDecay: number): tf.Tensor[] {
  if (weightDecay === 0) return grads;
  return grads.map((g, i) => (mask[i] === true ? tf.add(g, tf.mul(variables[i]!, weightDecay)) : g));
}

/** The global L2 norm of `grads`, as a scalar. */
export function globalNorm(grads: tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
}

/**
 * Scales all gradients by clipNorm / max(norm, clipNorm), so their global norm is at most
 * `clipNorm` and the direction is kept. Returns new tensors (caller tidies).
 */
export function clipByGlobalNorm(grads: tf.Tensor[], clipNorm: number): tf.Tensor[] {
  const norm = globalNorm(grads);
  const scale = tf.div(clipNorm, tf.maximum(norm, clipNorm));
  return grads.map((g) => tf.mul(g, scale));
}

/** w <- w * (1 - lr * wd) for each decaying variable. */
export function applyDecoupledDecay(variables: tf.Variable[], mask: boolean[], learningRate: number, weightDecay: number): void {
  if (weightDecay === 0) return;
  const factor = 1 - learningRate * weightDecay;
  tf.tidy(() => {
    variables.forEach((v, i) => {
      if (mask[i] === true) v.assign(tf.mul(v, factor));
    });
  });
}
