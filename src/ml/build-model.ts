/**
 * Model factory: validates a ModelSpec and dispatches on its architecture. Pure apart from
 * creating the model's variables; nothing is built at import time. Every builder outputs
 * logits (softmax is applied by the loss and by prediction).
 */
import type * as tf from '@tensorflow/tfjs';
import { EFFICIENTNET_MIN_SIDE, buildEfficientNetB0 } from './architectures/efficientnet.js';
import { MOBILENET_V3_MIN_SIDE, buildMobileNetV3 } from './architectures/mobilenet-v3.js';
import { RESNET_MIN_SIDE, buildResNet } from './architectures/resnet.js';
import { SMALL_CNN_MIN_SIDE, buildSmallCnn } from './architectures/small-cnn.js';
import { buildVitTiny, vitPatchSize } from './architectures/vit.js';
import { ARCHITECTURE_NAMES, type ArchitectureName, type ModelSpec } from './engine.js';
import { registerArchitectureLayers } from './layers/register-layers.js';

export const ARCHITECTURES: readonly ArchitectureName[] = ARCHITECTURE_NAMES;

/** Smallest input height/width each architecture accepts (its total downsampling); ViT: one patch. */
const MIN_SIDE: Record<Exclude<ArchitectureName, 'vit-tiny'>, number> = {
  'small-cnn': SMALL_CNN_MIN_SIDE,
  'mobilenet-v3-small': MOBILENET_V3_MIN_SIDE,
  'mobilenet-v3-large': MOBILENET_V3_MIN_SIDE,
  'resnet-18': RESNET_MIN_SIDE,
  'resnet-50': RESNET_MIN_SIDE,
  'efficientnet-b0': EFFICIENTNET_MIN_SIDE,
};

// Saved models name these layers by class; loading needs them registered before any model is.
registerArchitectureLayers();

/** Throws an error naming the field, the value and what was expected. */
export function validateModelSpec(spec: ModelSpec): void {
  if (!ARCHITECTURES.includes(spec.architecture)) {
    throw new Error(`model.architecture must be one of ${ARCHITECTURES.join(', ')}, got ${JSON.stringify(spec.architecture)}`);
  }
  const shape = spec.inputShape as unknown;
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`model.inputShape must be [height, width, channels] of positive integers, got ${JSON.stringify(shape)}`);
  }
  if (!Number.isInteger(spec.numClasses) || spec.numClasses < 2) {
    throw new Error(`model.numClasses must be an integer >= 2, got ${spec.numClasses}`);
  }
  if (spec.widthMultiplier !== undefined && !(spec.widthMultiplier > 0 && spec.widthMultiplier <= 16)) {
    throw new Error(`model.widthMultiplier must be in (0, 16], got ${spec.widthMultiplier}`);
  }
  if (spec.dropout !== undefined && !(spec.dropout >= 0 && spec.dropout < 1)) {
    throw new Error(`model.dropout must be in [0, 1), got ${spec.dropout}`);
  }
  if (spec.patchSize !== undefined && !(Number.isInteger(spec.patchSize) && spec.patchSize >= 1)) {
    throw new Error(`model.patchSize must be an integer >= 1, got ${spec.patchSize}`);
  }
  const [height, width] = spec.inputShape;
  if (spec.architecture === 'vit-tiny') {
    const patch = vitPatchSize(spec);
    if (height % patch !== 0 || width % patch !== 0) {
      throw new Error(`model.patchSize ${patch} must divide the input height and width for vit-tiny, got model.inputShape [${spec.inputShape.join(', ')}]`);
    }
    return;
  }
  const min = MIN_SIDE[spec.architecture];
  if (height < min || width < min) {
    throw new Error(`model.inputShape [${spec.inputShape.join(', ')}] is too small for ${spec.architecture}: height and width must be >= ${min}`);
  }
}

/** A freshly initialised model for `spec`; the same (spec, seed) always gives the same weights. */
export function buildModel(spec: ModelSpec, seed: number): tf.LayersModel {
  validateModelSpec(spec);
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  registerArchitectureLayers();
  switch (spec.architecture) {
    case 'small-cnn':
      return buildSmallCnn(spec, seed);
    case 'mobilenet-v3-small':
      return buildMobileNetV3(spec, seed, 'small');
    case 'mobilenet-v3-large':
      return buildMobileNetV3(spec, seed, 'large');
    case 'resnet-18':
    case 'resnet-50':
      return buildResNet(spec, seed, spec.architecture);
    case 'efficientnet-b0':
      return buildEfficientNetB0(spec, seed);
    case 'vit-tiny':
      return buildVitTiny(spec, seed);
  }
}
