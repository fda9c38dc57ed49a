/**
 * tfjs-layers' BatchNormalization, whose training step on wasm is one op (`batchNormTrain`: the
 * batch's moments in one SIMD pass, its gradient one two-pass kernel) with both moving averages
 * in one kernel (`movingMoments`, the same values), instead of tf.moments' ten or so full-size
 * kernels each way; where that op does not apply, `fusedMoments` and tf.batchNorm. Everything
 * else (inference, other axes, other backends) is what tfjs-layers does, and it serialises as a
 * plain BatchNormalization (same class name, config and weights). `registerFusedBatchNormalization`
 * makes loaded models (resumed checkpoints, pretrained backbones) build this class for every
 * BatchNormalization too.
 */
import * as tf from '@tensorflow/tfjs';
import type { BatchNormalization } from '@tensorflow/tfjs-layers/dist/layers/normalization.js';
import { batchNormTrain } from '../kernels/batch-norm-train.js';
import { fusedMoments, movingMoments } from '../kernels/moments.js';
import { tfjsLayerClass } from './tfjs-layer-class.js';

type BatchNormArgs = NonNullable<Parameters<typeof tf.layers.batchNormalization>[0]>;

/** The fields tfjs-layers keeps private that the training step reads. */
interface BatchNormFields {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: tf.LayerVariable | null;
  beta: tf.LayerVariable | null;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}

const BatchNormBase = tfjsLayerClass<BatchNormalization>('BatchNormalization') as unknown as new (args: BatchNormArgs) => BatchNormalization;

class FusedMomentsBatchNormalization extends BatchNormBase {
  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: tf.serialization.ConfigDict): tf.Tensor | tf.Tensor[] {
    const x = (Array.isArray(inputs) ? inputs[0] : inputs) as tf.Tensor;
    const f = this as unknown as BatchNormFields;
    const axis = f.axis >= 0 ? f.axis : f.axis + x.rank;
    if (kwargs['training'] !== true || axis !== x.rank - 1 || x.rank > 4 || f.gamma === null || f.beta === null) return super.call(inputs, kwargs);
    const gamma = f.gamma;
    const beta = f.beta;
    return tf.tidy(() => {
      // The moving averages as tfjs-layers updates them: v -= (v - value) * (1 - momentum).
      const updateMoving = (mean: tf.Tensor, variance: tf.Tensor): void => {
        const [movingMean, movingVariance] = movingMoments(f.movingMean.read(), f.movingVariance.read(), mean, variance, f.momentum);
        f.movingMean.write(movingMean);
        f.movingVariance.write(movingVariance);
      };
      const fused = batchNormTrain(x, gamma.read(), beta.read(), f.epsilon, updateMoving);
      if (fused !== undefined) return fused;
      const { mean, variance } = fusedMoments(x);
      const normed = tf.batchNorm(x, mean, variance, beta.read(), gamma.read(), f.epsilon);
      updateMoving(mean, variance);
      return normed;
    });
  }
}

/** tf.layers.batchNormalization, training as `batchNormTrain` where it applies (see above). */
export function batchNormalization(args: BatchNormArgs): tf.layers.Layer {
  return new FusedMomentsBatchNormalization(args) as unknown as tf.layers.Layer;
}

/** Deserialises every BatchNormalization as the fused-moments class (same config and weights). */
export function registerFusedBatchNormalization(): void {
  tf.serialization.registerClass(FusedMomentsBatchNormalization as unknown as tf.serialization.SerializableConstructor<tf.layers.Layer>);
}
