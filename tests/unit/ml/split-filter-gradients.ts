/** Filter and input gradients whose SIMD calls helper threads share (when the backend has them), on seeded data. */
import * as tf from '@tensorflow/tfjs';
import { seededUniform } from '../../../src/ml/seeded-random.js';

const CASES: { kernel: string; x: number[]; dy: number[]; filter: number[]; stride: number; pad: 'same' | 'valid' }[] = [
  // Above the work (multiply-adds) at which call batches split: 67M and 48M.
  { kernel: 'Conv2DBackpropFilter', x: [8, 32, 32, 64], dy: [8, 32, 32, 128], filter: [1, 1, 64, 128], stride: 1, pad: 'valid' },
  { kernel: 'Conv2DBackpropFilter', x: [8, 18, 18, 32], dy: [8, 18, 18, 64], filter: [3, 3, 32, 64], stride: 1, pad: 'same' },
  // The input gradient by tap passes, grouped by image: 48M.
  { kernel: 'Conv2DBackpropInput', x: [8, 18, 18, 32], dy: [8, 18, 18, 64], filter: [3, 3, 32, 64], stride: 1, pad: 'same' },
];

export function splitFilterGradients(): Float32Array[] {
  return CASES.map((c, i) => tf.tidy(() => {
    const dy = tf.tensor(seededUniform(tf.util.sizeFromShape(c.dy), 20 + i, -1, 1), c.dy);
    const attrs = { strides: [c.stride, c.stride], pad: c.pad, dataFormat: 'NHWC', dilations: [1, 1], filterShape: c.filter, inputShape: c.x };
    const inputs: tf.NamedTensorMap = c.kernel === 'Conv2DBackpropInput'
      ? { dy, filter: tf.tensor(seededUniform(tf.util.sizeFromShape(c.filter), 30 + i, -1, 1), c.filter) }
      : { x: tf.tensor(seededUniform(tf.util.sizeFromShape(c.x), 10 + i, -1, 1), c.x), dy };
    return (tf.engine().runKernel(c.kernel, inputs, attrs as never) as tf.Tensor).dataSync() as Float32Array;
  }));
}
