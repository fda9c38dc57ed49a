/**
 * Makes saved models that contain this project's architecture layers loadable
 * (tf.loadLayersModel looks classes up by className). Idempotent.
 */
import * as tf from '@tensorflow/tfjs';
import { registerSeededDropout } from '../seeded-dropout.js';
import { PointwiseActivation } from './activation.js';
import { registerFusedBatchNormalization } from './batch-norm.js';
import { ChannelScale } from './channel-scale.js';
import { ClassTokenAndPosition, MultiHeadSelfAttention, TakeClassToken } from './vit-layers.js';

let registered = false;

export function registerArchitectureLayers(): void {
  registerSeededDropout();
  if (registered) return;
  for (const cls of [PointwiseActivation, ChannelScale, ClassTokenAndPosition, MultiHeadSelfAttention, TakeClassToken]) {
    tf.serialization.registerClass(cls);
  }
  // Loaded BatchNormalization layers train as fast as built ones.
  registerFusedBatchNormalization();
  registered = true;
}
