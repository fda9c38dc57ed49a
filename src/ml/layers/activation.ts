/**
 * Element-wise activations that tfjs-layers lacks or defines differently from the papers:
 * hard-swish and hard-sigmoid as in MobileNetV3 (relu6(x + 3) / 6, not tfjs's 0.2x + 0.5),
 * swish (SiLU) and exact GELU (erf form). Built from primitive ops, so their gradients come
 * from tfjs autodiff, except the two hard ones on wasm and cpu, which run as one kernel each way
 * with the same values and gradients (kernels/hard-activations.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { hardActivation, hardActivationKernel } from '../kernels/hard-activations.js';

export const ACTIVATION_KINDS = ['hard-swish', 'hard-sigmoid', 'swish', 'gelu'] as const;
export type ActivationKind = (typeof ACTIVATION_KINDS)[number];

/** The activation on a concrete tensor (call inside a tidy). */
export function activate(kind: ActivationKind, x: tf.Tensor): tf.Tensor {
  switch (kind) {
    case 'hard-sigmoid':
      if (hardActivationKernel(x)) return hardActivation(kind, x);
      return tf.relu6(tf.add(x, 3)).div(6);
    case 'hard-swish':
      if (hardActivationKernel(x)) return hardActivation(kind, x);
      return tf.mul(x, tf.relu6(tf.add(x, 3)).div(6));
    case 'swish':
      return tf.mul(x, tf.sigmoid(x));
    case 'gelu':
      return tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));
  }
}

export interface PointwiseActivationArgs {
  kind: ActivationKind;
  name?: string;
}

export class PointwiseActivation extends tf.layers.Layer {
  static readonly className = 'PointwiseActivation';
  readonly kind: ActivationKind;

  constructor(args: PointwiseActivationArgs) {
    super({ name: args.name });
    if (!ACTIVATION_KINDS.includes(args.kind)) {
      throw new Error(`activation kind must be one of ${ACTIVATION_KINDS.join(', ')}, got ${JSON.stringify(args.kind)}`);
    }
    this.kind = args.kind;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (x === undefined) throw new Error('PointwiseActivation expects one input tensor');
    return tf.tidy(() => activate(this.kind, x));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), kind: this.kind };
  }
}
