/**
 * Dropout whose mask is a pure function of (layer seed, training step).
 *
 * tf.layers.dropout either draws from Math.random (a resumed run cannot replay it) or, given a
 * seed, draws the *same* mask on every step. The training loop calls `setStep` before each batch
 * so that mask k of a resumed run equals mask k of the uninterrupted run.
 */
import * as tf from '@tensorflow/tfjs';
import { deriveSeed } from './seeded-random.js';

export interface SeededDropoutArgs {
  /** Fraction of units dropped while training, in [0, 1). */
  rate: number;
  /** Base seed of this layer's masks. */
  seed: number;
  name?: string;
}

export class SeededDropout extends tf.layers.Layer {
  static readonly className = 'SeededDropout';
  readonly rate: number;
  readonly seed: number;
  private step = 0;

  constructor(args: SeededDropoutArgs) {
    super({ name: args.name });
    if (!(args.rate >= 0 && args.rate < 1)) throw new Error(`dropout rate must be in [0, 1), got ${args.rate}`);
    if (!Number.isInteger(args.seed)) throw new Error(`dropout seed must be an integer, got ${args.seed}`);
    this.rate = args.rate;
    this.seed = args.seed;
  }

  /** Selects the mask for the next training call; any integer, e.g. a global batch index. */
  setStep(step: number): void {
    this.step = step;
  }

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Record<string, unknown>): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0] : inputs;
    if (x === undefined) throw new Error('SeededDropout expects one input tensor');
    if (kwargs['training'] !== true || this.rate === 0) return x;
    return tf.tidy(() => tf.dropout(x, this.rate, undefined, deriveSeed(this.seed, this.step)));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), rate: this.rate, seed: this.seed };
  }
}

let registered = false;

/** Makes saved models containing SeededDropout loadable; safe to call repeatedly. */
export function registerSeededDropout(): void {
  if (registered) return;
  tf.serialization.registerClass(SeededDropout);
  registered = true;
}
