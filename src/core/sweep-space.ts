/**
 * How a sweep's parameters map onto the run config: every parameter is named by the dotted path
 * of the config field it sets (`training.learningRate`, `model.widthMultiplier`), so a trial's
 * configuration is the base config with those fields replaced. Pure, so workflows use it too.
 */
import type { ModelConfig, TrainingConfig } from './config.js';
import type { ParamValue, TrialConfig } from './search/index.js';

/** The config fields a sweep may vary, with what each expects (for error messages and docs). */
export const SWEEPABLE_PATHS = {
  'training.learningRate': 'number > 0',
  'training.batchSize': 'integer',
  'training.optimizer': 'adam | adamw | sgd',
  'training.momentum': 'number in [0, 1]',
  'training.nesterov': 'true | false',
  'training.weightDecay': 'number in [0, 1]',
  'training.clipNorm': 'number > 0',
  'training.loss.labelSmoothing': 'number in [0, 0.5] (cross-entropy loss)',
  'training.schedule.warmupEpochs': 'number >= 0',
  'training.seed': 'integer',
  'model.architecture': 'architecture name',
  'model.widthMultiplier': 'number > 0',
  'model.dropout': 'number in [0, 0.9]',
} as const satisfies Record<string, string>;

export type SweepablePath = keyof typeof SWEEPABLE_PATHS;

export function isSweepablePath(path: string): path is SweepablePath {
  return Object.prototype.hasOwnProperty.call(SWEEPABLE_PATHS, path);
}

/** The sections of the run config a trial changes. */
export interface TrialSections {
  model: ModelConfig;
  training: TrainingConfig;
}

/**
 * The base sections with each parameter of `trial` written at its path. The base is not
 * changed. Throws naming the parameter for a path outside SWEEPABLE_PATHS, and for label
 * smoothing on a loss that has none (the config check reports both before any run starts).
 */
export function applyTrialConfig<T extends TrialSections>(base: T, trial: Readonly<TrialConfig>): T {
  const out = structuredCloneJson(base);
  for (const [path, value] of Object.entries(trial)) {
    if (!isSweepablePath(path)) {
      throw new RangeError(`sweep parameter "${path}" is not a config field a sweep can set (sweepable: ${Object.keys(SWEEPABLE_PATHS).join(', ')})`);
    }
    if (path === 'training.loss.labelSmoothing' && out.training.loss.kind !== 'cross-entropy') {
      throw new RangeError(`sweep parameter "${path}" needs training.loss.kind cross-entropy, but the config's loss is ${out.training.loss.kind}`);
    }
    setAt(out as unknown as Record<string, unknown>, path.split('.'), value);
  }
  return out;
}

function setAt(root: Record<string, unknown>, parts: string[], value: ParamValue): void {
  let node = root;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1] as string] = value;
}

/** Config sections are plain JSON (they travel through Temporal), so a JSON copy is exact. */
function structuredCloneJson<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
