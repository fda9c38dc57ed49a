/**
 * Squeeze-and-excitation's last step: scales every channel of an NHWC feature map by a
 * per-example, per-channel gate. Inputs [x: [B, H, W, C], gate: [B, C]]; output shaped like x.
 */
import * as tf from '@tensorflow/tfjs';

export class ChannelScale extends tf.layers.Layer {
  static readonly className = 'ChannelScale';

  constructor(args: { name?: string } = {}) {
    super({ name: args.name });
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const first = inputShape[0];
    if (!Array.isArray(first)) throw new Error('ChannelScale expects two inputs: [features, gate]');
    return first;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    if (!Array.isArray(inputs) || inputs.length !== 2) throw new Error('ChannelScale expects two inputs: [features, gate]');
    const [x, gate] = inputs as [tf.Tensor, tf.Tensor];
    const channels = x.shape[x.shape.length - 1]!;
    if (gate.shape[gate.shape.length - 1] !== channels) {
      throw new Error(`ChannelScale: gate has ${gate.shape[gate.shape.length - 1]} channels, features have ${channels}`);
    }
    return tf.tidy(() => tf.mul(x, tf.reshape(gate, [x.shape[0]!, ...x.shape.slice(1, -1).map(() => 1), channels])));
  }
}
