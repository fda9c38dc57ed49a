/**
 * Early stopping as a small state machine over epoch reports. After each epoch the monitored
 * validation metric either improves on the best so far by more than `minDelta` (the epoch
 * becomes the best one and the wait resets) or the wait grows; when it reaches `patience` the
 * run stops. The state travels in checkpoints, so a resumed run keeps counting.
 */
import type { EarlyStoppingSpec, EpochReport } from './engine.js';

export interface EarlyStoppingState {
  /** Best monitored value so far; null before the first epoch. */
  best: number | null;
  /** Epoch that reached `best`; 0 before the first epoch. */
  bestEpoch: number;
  /** Epochs since the best one. */
  wait: number;
  stopped: boolean;
}

export const INITIAL_EARLY_STOPPING: EarlyStoppingState = { best: null, bestEpoch: 0, wait: 0, stopped: false };

export function validateEarlyStopping(spec: EarlyStoppingSpec): void {
  if (!(Number.isInteger(spec.patience) && spec.patience >= 1)) throw new Error(`spec.earlyStopping.patience must be an integer >= 1, got ${spec.patience}`);
  const minDelta = spec.minDelta ?? 0;
  if (!(Number.isFinite(minDelta) && minDelta >= 0)) throw new Error(`spec.earlyStopping.minDelta must be a finite number >= 0, got ${spec.minDelta}`);
  const monitor = spec.monitor ?? 'val_loss';
  if (monitor !== 'val_loss' && monitor !== 'val_accuracy') {
    throw new Error(`spec.earlyStopping.monitor must be 'val_loss' or 'val_accuracy', got ${JSON.stringify(spec.monitor)}`);
  }
}

/** The state after `report`; `improved` says whether this epoch is the new best. */
export function observeEpoch(spec: EarlyStoppingSpec, state: EarlyStoppingState, report: EpochReport): { state: EarlyStoppingState; improved: boolean } {
  const monitor = spec.monitor ?? 'val_loss';
  const value = monitor === 'val_loss' ? report.valLoss : report.valAccuracy;
  if (value === undefined) throw new Error(`early stopping monitors ${monitor}, but epoch ${report.epoch} has no validation metrics`);
  const minDelta = spec.minDelta ?? 0;
  const improved = state.best === null
    || (monitor === 'val_loss' ? value < state.best - minDelta : value > state.best + minDelta);
  if (improved) return { state: { best: value, bestEpoch: report.epoch, wait: 0, stopped: false }, improved };
  const wait = state.wait + 1;
  return { state: { ...state, wait, stopped: wait >= spec.patience }, improved };
}
