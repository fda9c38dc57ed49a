/**
 * Model factory: validates a ModelSpec and dispatches on its architecture. Pure apart from
 * creating the model's variables; nothing is built at import time.
 */
import type * as tf from '@tensorflow/tfjs';
import { buildSmallCnn } from './architectures/small-cnn.js';
import type { ModelSpec } from './engine.js';
import { registerSeededDropout } from './seeded-dropout.js';

export const ARCHITECTURES: readonly ModelSpec['architecture'][] = ['small-cnn'];

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
}

/** A freshly initialised model for `spec`; the same (spec, seed) always gives the same weights. */
export function buildModel(spec: ModelSpec, seed: number): tf.LayersModel {
  validateModelSpec(spec);
  if (!Number.isInteger(seed)) throw new Error(`seed must be an integer, got ${seed}`);
  registerSeededDropout();
  switch (spec.architecture) {
    case 'small-cnn':
      return buildSmallCnn(spec, seed);
  }
}
