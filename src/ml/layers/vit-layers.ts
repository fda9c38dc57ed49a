/**
 * The Vision Transformer's layers that tfjs-layers lacks: the class token plus learned position
 * embeddings, multi-head self-attention, and picking the class token out of the sequence.
 * Weights are initialised from a truncated normal (std 0.02, as in timm) seeded per layer.
 */
import * as tf from '@tensorflow/tfjs';
import { deriveSeed } from '../seeded-random.js';

const INIT_STD = 0.02;

function single(inputs: tf.Tensor | tf.Tensor[], layer: string): tf.Tensor {
  const x = Array.isArray(inputs) ? inputs[0] : inputs;
  if (x === undefined) throw new Error(`${layer} expects one input tensor`);
  return x;
}

function sequenceShape(inputShape: tf.Shape | tf.Shape[], layer: string): [number, number] {
  const shape = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
  const [, tokens, dim] = shape;
  if (shape.length !== 3 || typeof tokens !== 'number' || typeof dim !== 'number') {
    throw new Error(`${layer} expects input [batch, tokens, dim] with known tokens and dim, got [${shape.join(', ')}]`);
  }
  return [tokens, dim];
}

/** Prepends a learned class token to [B, N, D] patch embeddings and adds learned position embeddings: [B, N + 1, D]. */
export class ClassTokenAndPosition extends tf.layers.Layer {
  static readonly className = 'ClassTokenAndPosition';
  readonly seed: number;
  private classToken?: tf.LayerVariable;
  private position?: tf.LayerVariable;

  constructor(args: { seed: number; name?: string }) {
    super({ name: args.name });
    this.seed = args.seed;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [tokens, dim] = sequenceShape(inputShape, 'ClassTokenAndPosition');
    const init = (stream: number) => tf.initializers.truncatedNormal({ stddev: INIT_STD, seed: deriveSeed(this.seed, stream) });
    this.classToken = this.addWeight('class_token', [1, 1, dim], 'float32', init(0));
    this.position = this.addWeight('position_embedding', [1, tokens + 1, dim], 'float32', init(1));
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [tokens, dim] = sequenceShape(inputShape, 'ClassTokenAndPosition');
    return [null, tokens + 1, dim];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = single(inputs, 'ClassTokenAndPosition');
    if (this.classToken === undefined || this.position === undefined) throw new Error('ClassTokenAndPosition called before build');
    const cls = this.classToken.read();
    const position = this.position.read();
    return tf.tidy(() => {
      const tokens = tf.broadcastTo(cls, [x.shape[0]!, 1, x.shape[2]!]);
      return tf.add(tf.concat([tokens, x], 1), position);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), seed: this.seed };
  }
}

/**
 * Multi-head self-attention over [B, N, D]: one fused qkv projection (D -> 3D, with bias),
 * softmax(q k^T / sqrt(D / heads)) v per head, then an output projection (D -> D, with bias).
 */
export class MultiHeadSelfAttention extends tf.layers.Layer {
  static readonly className = 'MultiHeadSelfAttention';
  readonly numHeads: number;
  readonly seed: number;
  private qkvKernel?: tf.LayerVariable;
  private qkvBias?: tf.LayerVariable;
  private outKernel?: tf.LayerVariable;
  private outBias?: tf.LayerVariable;

  constructor(args: { numHeads: number; seed: number; name?: string }) {
    super({ name: args.name });
    if (!(Number.isInteger(args.numHeads) && args.numHeads >= 1)) throw new Error(`numHeads must be an integer >= 1, got ${args.numHeads}`);
    this.numHeads = args.numHeads;
    this.seed = args.seed;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [, dim] = sequenceShape(inputShape, 'MultiHeadSelfAttention');
    if (dim % this.numHeads !== 0) throw new Error(`MultiHeadSelfAttention: dim ${dim} is not divisible by ${this.numHeads} heads`);
    const init = (stream: number) => tf.initializers.truncatedNormal({ stddev: INIT_STD, seed: deriveSeed(this.seed, stream) });
    this.qkvKernel = this.addWeight('qkv_kernel', [dim, 3 * dim], 'float32', init(0));
    this.qkvBias = this.addWeight('qkv_bias', [3 * dim], 'float32', tf.initializers.zeros());
    this.outKernel = this.addWeight('out_kernel', [dim, dim], 'float32', init(1));
    this.outBias = this.addWeight('out_bias', [dim], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    return (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = single(inputs, 'MultiHeadSelfAttention');
    if (this.qkvKernel === undefined || this.qkvBias === undefined || this.outKernel === undefined || this.outBias === undefined) {
      throw new Error('MultiHeadSelfAttention called before build');
    }
    const [batch, tokens, dim] = x.shape as [number, number, number];
    const heads = this.numHeads;
    const headDim = dim / heads;
    const qkvKernel = this.qkvKernel.read();
    const qkvBias = this.qkvBias.read();
    const outKernel = this.outKernel.read();
    const outBias = this.outBias.read();
    return tf.tidy(() => {
      const qkv = tf.add(tf.matMul(tf.reshape(x, [batch * tokens, dim]), qkvKernel), qkvBias);
      const [q, k, v] = tf.split(qkv, 3, 1).map((t) => tf.transpose(tf.reshape(t, [batch, tokens, heads, headDim]), [0, 2, 1, 3])) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
      const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(headDim));
      const attended = tf.matMul(tf.softmax(scores), v);
      const merged = tf.reshape(tf.transpose(attended, [0, 2, 1, 3]), [batch * tokens, dim]);
      return tf.reshape(tf.add(tf.matMul(merged, outKernel), outBias), [batch, tokens, dim]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), numHeads: this.numHeads, seed: this.seed };
  }
}

/** [B, N, D] -> [B, D]: the first (class) token. */
export class TakeClassToken extends tf.layers.Layer {
  static readonly className = 'TakeClassToken';

  constructor(args: { name?: string } = {}) {
    super({ name: args.name });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [, dim] = sequenceShape(inputShape, 'TakeClassToken');
    return [null, dim];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = single(inputs, 'TakeClassToken');
    return tf.tidy(() => tf.reshape(tf.slice(x, [0, 0, 0], [-1, 1, -1]), [x.shape[0]!, x.shape[2]!]));
  }
}
