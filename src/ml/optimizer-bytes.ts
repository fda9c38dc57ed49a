/**
 * Optimizers from a TrainSpec, and their state as bytes, so a resumed run continues the same
 * descent: iteration count and slots (Adam m/v, momentum accumulators) in the order of the
 * variable list the training loop passes to `applyGradients`.
 *
 * 'adamw' is tf's Adam plus a decoupled weight decay the training loop applies after each step
 * (see weight-decay.ts); its slots are Adam's. The learning rate is set before every step from
 * the schedule with `setLearningRate`, so the rate given at creation only matters until then.
 */
import * as tf from '@tensorflow/tfjs';
import { decodeFramed, encodeFramed } from './framed-bytes.js';
import { FusedAdamOptimizer, FusedMomentumOptimizer } from './fused-optimizer.js';

const MAGIC = 'DVO1';

export interface OptimizerSettings {
  kind: 'adam' | 'adamw' | 'sgd';
  learningRate: number;
  /** For 'sgd'; 0 means plain SGD. */
  momentum: number;
  /** For 'sgd' with momentum > 0. */
  nesterov?: boolean;
}

interface SlotSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
}

interface OptimizerHeader {
  format: 'durable-vision/optimizer';
  version: 1;
  kind: OptimizerSettings['kind'];
  momentum: number;
  /** Absent in checkpoints written before Nesterov momentum existed (they never used it). */
  nesterov?: boolean;
  slots: SlotSpec[];
  /**
   * Adam's running beta1^t and beta2^t. setWeights recomputes them with pow(), which differs
   * from the running product in the last bit; restoring the saved values keeps a resumed run
   * bit-identical to an uninterrupted one.
   */
  adamAccBeta?: [number, number];
}

interface AdamInternals {
  accBeta1?: tf.Variable;
  accBeta2?: tf.Variable;
}

function usesAdam(kind: OptimizerSettings['kind']): boolean {
  return kind === 'adam' || kind === 'adamw';
}

export function createOptimizer(settings: OptimizerSettings): tf.Optimizer {
  if (!(settings.learningRate > 0)) throw new Error(`learningRate must be > 0, got ${settings.learningRate}`);
  // tfjs's Adam and Momentum with the same state, stepping in one fused pass on wasm.
  if (usesAdam(settings.kind)) return new FusedAdamOptimizer(settings.learningRate, 0.9, 0.999);
  if (settings.kind !== 'sgd') throw new Error(`optimizer must be 'adam', 'adamw' or 'sgd', got ${JSON.stringify(settings.kind)}`);
  if (!(settings.momentum >= 0 && settings.momentum < 1)) throw new Error(`momentum must be in [0, 1), got ${settings.momentum}`);
  if (settings.nesterov === true && settings.momentum === 0) throw new Error('nesterov needs momentum > 0');
  return settings.momentum > 0 ? new FusedMomentumOptimizer(settings.learningRate, settings.momentum, settings.nesterov === true) : tf.train.sgd(settings.learningRate);
}

/**
 * Makes the next `applyGradients` step with `learningRate`. Adam reads its `learningRate` field
 * on every step; SGD and momentum multiply by a kept scalar that `setLearningRate` replaces.
 */
export function setLearningRate(optimizer: tf.Optimizer, learningRate: number): void {
  // tf's optimizer classes answer `instanceof` by duck typing (any optimizer is an
  // "SGDOptimizer"), so dispatch on the registered class name instead.
  const name = optimizer.getClassName();
  const current = optimizer as unknown as { learningRate: number };
  if (name === 'SGD' || name === 'Momentum') {
    // Replacing SGD's kept -lr scalar costs a tensor, so skip no-ops.
    if (current.learningRate !== learningRate) (optimizer as tf.SGDOptimizer).setLearningRate(learningRate);
  } else if (name === 'Adam') {
    current.learningRate = learningRate;
  } else {
    throw new Error(`cannot set the learning rate of a ${name} optimizer`);
  }
}

export async function optimizerToBytes(optimizer: tf.Optimizer, settings: OptimizerSettings): Promise<Uint8Array> {
  const named = await optimizer.getWeights();
  const slots: SlotSpec[] = [];
  const parts: Uint8Array[] = [];
  for (const { name, tensor } of named) {
    const dtype = tensor.dtype === 'int32' ? 'int32' : 'float32';
    const data = tensor.dtype === 'int32' ? Int32Array.from(tensor.dataSync()) : Float32Array.from(tensor.dataSync());
    slots.push({ name, shape: tensor.shape, dtype });
    parts.push(new Uint8Array(data.buffer));
  }
  // getWeights() wraps the iteration count in a fresh tensor that nobody else disposes.
  const iteration = named.find((w) => w.name === 'iter');
  iteration?.tensor.dispose();

  const header: OptimizerHeader = { format: 'durable-vision/optimizer', version: 1, kind: settings.kind, momentum: settings.momentum, nesterov: settings.nesterov === true, slots };
  const adam = optimizer as unknown as AdamInternals;
  if (usesAdam(settings.kind) && adam.accBeta1 !== undefined && adam.accBeta2 !== undefined) {
    header.adamAccBeta = [adam.accBeta1.dataSync()[0]!, adam.accBeta2.dataSync()[0]!];
  }
  const payload = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    payload.set(part, offset);
    offset += part.length;
  }
  return encodeFramed(MAGIC, header, payload);
}

/** A new optimizer for `settings` carrying the state saved in `bytes`. */
export async function restoreOptimizer(bytes: Uint8Array, settings: OptimizerSettings): Promise<tf.Optimizer> {
  const { header, payload } = decodeFramed<OptimizerHeader>(MAGIC, bytes, 'optimizer bytes');
  if (header.format !== 'durable-vision/optimizer' || header.version !== 1) {
    throw new Error(`optimizer bytes: expected format durable-vision/optimizer v1, got ${header.format} v${header.version}`);
  }
  const nesterov = header.nesterov === true;
  if (header.kind !== settings.kind || (settings.kind === 'sgd' && ((header.momentum > 0) !== (settings.momentum > 0) || nesterov !== (settings.nesterov === true)))) {
    const describe = (kind: string, momentum: number, useNesterov: boolean): string => `${kind} (momentum ${momentum}${useNesterov ? ', nesterov' : ''})`;
    throw new Error(`checkpoint optimizer is ${describe(header.kind, header.momentum, nesterov)}, `
      + `but the run asks for ${describe(settings.kind, settings.momentum, settings.nesterov === true)}`);
  }
  const optimizer = createOptimizer(settings);
  const tensors: Awaited<ReturnType<tf.Optimizer['getWeights']>> = [];
  let offset = 0;
  for (const slot of header.slots) {
    const count = slot.shape.reduce((a, b) => a * b, 1);
    if (offset + count * 4 > payload.byteLength) throw new Error(`optimizer bytes: slot ${slot.name} overruns the payload`);
    const values = slot.dtype === 'int32' ? new Int32Array(payload, offset, count) : new Float32Array(payload, offset, count);
    tensors.push({ name: slot.name, tensor: tf.tensor(values, slot.shape, slot.dtype) });
    offset += count * 4;
  }
  await optimizer.setWeights(tensors);
  // Variables made by setWeights hold their own reference to the data.
  tf.dispose(tensors.map((t) => t.tensor));
  const adam = optimizer as unknown as AdamInternals;
  if (header.adamAccBeta !== undefined && adam.accBeta1 !== undefined && adam.accBeta2 !== undefined) {
    const [b1, b2] = header.adamAccBeta;
    tf.tidy(() => {
      adam.accBeta1?.assign(tf.scalar(b1));
      adam.accBeta2?.assign(tf.scalar(b2));
    });
  }
  return optimizer;
}
