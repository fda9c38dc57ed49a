/**
 * Everything besides the weights that a resumed run needs to continue the uninterrupted one,
 * stored as the checkpoint's `optimizer` bytes: one framed buffer ('DVT1') whose header holds
 * the schedule position (global step, steps per epoch), the seed every random stream derives
 * from and the early-stopping state, and whose payload holds the optimizer state ('DVO1', see
 * optimizer-bytes.ts) followed by the best epoch's model bytes when early stopping keeps an
 * epoch other than the last.
 *
 * Randomness needs no generator state: shuffling, dropout masks and online augmentation derive
 * their streams from (seed, epoch, step or position), so the seed and the step pin them down.
 *
 * Checkpoints written before this format hold the bare 'DVO1' optimizer bytes; they are read
 * as "step = epoch * stepsPerEpoch, no early-stopping state".
 */
import type { EarlyStoppingState } from './early-stopping.js';
import { decodeFramed, encodeFramed } from './framed-bytes.js';

const MAGIC = 'DVT1';
const LEGACY_OPTIMIZER_MAGIC = 'DVO1';

export interface TrainState {
  /** Optimizer steps taken so far over the whole run; the schedule's position. */
  step: number;
  stepsPerEpoch: number;
  seed: number;
  optimizer: Uint8Array;
  earlyStopping?: EarlyStoppingState;
  /** The best epoch's model, when it is not the checkpoint's own. */
  bestModel?: Uint8Array;
}

interface TrainStateHeader {
  format: 'durable-vision/train-state';
  version: 1;
  step: number;
  stepsPerEpoch: number;
  seed: number;
  earlyStopping?: EarlyStoppingState;
  optimizerLength: number;
  bestModelLength: number;
}

export function encodeTrainState(state: TrainState): Uint8Array {
  const bestLength = state.bestModel?.length ?? 0;
  const payload = new Uint8Array(state.optimizer.length + bestLength);
  payload.set(state.optimizer, 0);
  if (state.bestModel !== undefined) payload.set(state.bestModel, state.optimizer.length);
  const header: TrainStateHeader = {
    format: 'durable-vision/train-state',
    version: 1,
    step: state.step,
    stepsPerEpoch: state.stepsPerEpoch,
    seed: state.seed,
    ...(state.earlyStopping !== undefined ? { earlyStopping: state.earlyStopping } : {}),
    optimizerLength: state.optimizer.length,
    bestModelLength: bestLength,
  };
  return encodeFramed(MAGIC, header, payload);
}

/** Reads a checkpoint's `optimizer` bytes; `epoch` and `stepsPerEpoch` place legacy ones. */
export function decodeTrainState(bytes: Uint8Array, epoch: number, stepsPerEpoch: number, seed: number): TrainState {
  if (bytes.length >= 4 && String.fromCharCode(bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!) === LEGACY_OPTIMIZER_MAGIC) {
    return { step: epoch * stepsPerEpoch, stepsPerEpoch, seed, optimizer: bytes };
  }
  const { header, payload } = decodeFramed<TrainStateHeader>(MAGIC, bytes, 'checkpoint training state');
  if (header.format !== 'durable-vision/train-state' || header.version !== 1) {
    throw new Error(`checkpoint training state: expected format durable-vision/train-state v1, got ${header.format} v${header.version}`);
  }
  if (header.optimizerLength + header.bestModelLength !== payload.byteLength) {
    throw new Error(`checkpoint training state: sections of ${header.optimizerLength} + ${header.bestModelLength} bytes do not fill the ${payload.byteLength}-byte payload`);
  }
  const all = new Uint8Array(payload);
  return {
    step: header.step,
    stepsPerEpoch: header.stepsPerEpoch,
    seed: header.seed,
    optimizer: all.subarray(0, header.optimizerLength),
    ...(header.earlyStopping !== undefined ? { earlyStopping: header.earlyStopping } : {}),
    ...(header.bestModelLength > 0 ? { bestModel: all.subarray(header.optimizerLength) } : {}),
  };
}
