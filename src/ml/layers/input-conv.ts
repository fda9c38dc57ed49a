/**
 * A model's first convolution, whose training step computes no gradient for the image.
 *
 * tfjs-layers runs a convolution without activation (every one followed by batch norm) as
 * tf.fused.conv2d, whose gradient is a customGrad that computes the input's gradient with the
 * filter's whether or not anything needs it. For the first layer nothing does: on
 * MobileNetV3-Small@96 at batch 32 that discarded Conv2DBackpropInput was 22 ms a step (5%).
 * This layer calls tf.conv2d (and adds a bias apart), whose registered gradient computes each
 * input's gradient only when the tape asks for it; the forward values are the same
 * convolution. It is a Conv2D in every other way and serialises as one (same class name, config
 * and weights), so a saved model loads anywhere as a plain Conv2D; `skipInputGradients` gives
 * a loaded model's first convolutions this layer's training step again.
 */
import * as tf from '@tensorflow/tfjs';
import type { Conv2D } from '@tensorflow/tfjs-layers/dist/layers/convolutional.js';
import { tfjsLayerClass } from './tfjs-layer-class.js';

type ConvArgs = Parameters<typeof tf.layers.conv2d>[0];

const Conv2DBase = tfjsLayerClass<Conv2D>('Conv2D') as unknown as new (args: ConvArgs) => Conv2D;

class InputConv2D extends Conv2DBase {
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: tf.serialization.ConfigDict): tf.Tensor | tf.Tensor[] {
    if (this.dataFormat !== 'channelsLast') return super.call(inputs, kwargs);
    return tf.tidy(() => {
      const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor4D;
      let y: tf.Tensor = tf.conv2d(x, this.kernel.read() as tf.Tensor4D, this.strides as [number, number], this.padding === 'same' ? 'same' : 'valid', 'NHWC', this.dilationRate as [number, number]);
      if (this.bias) y = tf.add(y, this.bias.read());
      return this.activation ? this.activation.apply(y) : y;
    });
  }
}

/** tf.layers.conv2d for a model's first convolution (see above). */
export function inputConv2d(args: ConvArgs): tf.layers.Layer {
  return new InputConv2D(args) as unknown as tf.layers.Layer;
}

/**
 * Gives every Conv2D of `model` that reads the model's input directly the training step of
 * InputConv2D (models loaded from bytes or files build plain Conv2D layers).
 */
export function skipInputGradients(model: tf.LayersModel): void {
  for (const layer of model.layers) {
    if (layer instanceof InputConv2D || layer.getClassName() !== 'Conv2D') continue;
    const readsInput = layer.inboundNodes.length > 0
      && layer.inboundNodes.every((node) => node.inboundLayers.length > 0 && node.inboundLayers.every((l) => l.getClassName() === 'InputLayer'));
    if (readsInput) layer.call = InputConv2D.prototype.call.bind(layer as unknown as InputConv2D);
  }
}
