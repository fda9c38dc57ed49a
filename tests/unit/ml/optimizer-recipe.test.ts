import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend.js';
import { type OptimizerSettings, createOptimizer, optimizerToBytes, restoreOptimizer, setLearningRate } from '../../../src/ml/optimizer-bytes.js';
import { addL2, applyDecoupledDecay, clipByGlobalNorm, decays, globalNorm } from '../../../src/ml/weight-decay.js';

/** One step on w with a fixed gradient g at the given rate; returns the change in w. */
function stepDelta(optimizer: tf.Optimizer, w: tf.Variable, g: number[], learningRate: number): number[] {
  const before = Array.from(w.dataSync());
  setLearningRate(optimizer, learningRate);
  tf.tidy(() => optimizer.applyGradients([{ name: w.name, tensor: tf.tensor1d(g) }]));
  return Array.from(w.dataSync(), (v, i) => v - before[i]!);
}

function closeTo(actual: number[], expected: number[], digits = 6): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((v, i) => expect(v).toBeCloseTo(expected[i]!, digits));
}

describe('optimizers on wasm: the scheduled learning rate is the one applied', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('plain SGD steps by -lr * g with the rate set before each step', () => {
    const w = tf.variable(tf.tensor1d([1, 2]));
    const opt = createOptimizer({ kind: 'sgd', learningRate: 1, momentum: 0 });
    closeTo(stepDelta(opt, w, [1, -2], 0.1), [-0.1, 0.2]);
    closeTo(stepDelta(opt, w, [1, -2], 0.01), [-0.01, 0.02]);
    opt.dispose();
    w.dispose();
  });

  it('momentum and Nesterov momentum use the new rate on every step', () => {
    for (const nesterov of [false, true]) {
      const w = tf.variable(tf.tensor1d([0]));
      const opt = createOptimizer({ kind: 'sgd', learningRate: 1, momentum: 0.9, nesterov });
      // v1 = g = 1; classic: dw = -lr*v1; Nesterov: dw = -lr*(g + m*v1).
      closeTo(stepDelta(opt, w, [1], 0.1), [nesterov ? -0.1 * 1.9 : -0.1]);
      // v2 = 0.9 * 1 + 1 = 1.9; classic: -lr*1.9; Nesterov: -lr*(1 + 0.9*1.9).
      closeTo(stepDelta(opt, w, [1], 0.05), [nesterov ? -0.05 * (1 + 0.9 * 1.9) : -0.05 * 1.9]);
      opt.dispose();
      w.dispose();
    }
  });

  it('Adam reads the rate on every step (first step moves each weight by about lr)', () => {
    const w = tf.variable(tf.tensor1d([0, 0]));
    const opt = createOptimizer({ kind: 'adam', learningRate: 1, momentum: 0 });
    closeTo(stepDelta(opt, w, [3, -0.5], 0.01), [-0.01, 0.01], 5);
    // Same gradient again: m/sqrt(v) is still sign(g), bias-corrected.
    closeTo(stepDelta(opt, w, [3, -0.5], 0.002), [-0.002, 0.002], 5);
    opt.dispose();
    w.dispose();
  });

  it('setting the rate leaks no tensors', () => {
    const opt = createOptimizer({ kind: 'sgd', learningRate: 1, momentum: 0.9 });
    const before = tf.memory().numTensors;
    for (let i = 1; i <= 5; i++) setLearningRate(opt, i / 10);
    expect(tf.memory().numTensors).toBe(before);
    opt.dispose();
  });

  it('Nesterov and AdamW settings survive the optimizer bytes, and a mismatch is refused', async () => {
    const nesterov: OptimizerSettings = { kind: 'sgd', learningRate: 0.1, momentum: 0.9, nesterov: true };
    const opt = createOptimizer(nesterov);
    const bytes = await optimizerToBytes(opt, nesterov);
    (await restoreOptimizer(bytes, nesterov)).dispose();
    await expect(restoreOptimizer(bytes, { ...nesterov, nesterov: false })).rejects.toThrow('checkpoint optimizer is sgd (momentum 0.9, nesterov), but the run asks for sgd (momentum 0.9)');
    const adamw: OptimizerSettings = { kind: 'adamw', learningRate: 0.1, momentum: 0 };
    const adamwBytes = await optimizerToBytes(createOptimizer(adamw), adamw);
    await expect(restoreOptimizer(adamwBytes, { ...adamw, kind: 'adam' })).rejects.toThrow('checkpoint optimizer is adamw');
    opt.dispose();
  });
});

describe('weight decay and clipping', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('decays kernels and embeddings, not biases, normalisation parameters, position embeddings or class tokens', () => {
    expect(decays('conv1/kernel', [3, 3, 1, 8])).toBe(true);
    expect(decays('fc1/kernel', [64, 10])).toBe(true);
    expect(decays('block1_dw/depthwise_kernel', [3, 3, 8, 1])).toBe(true);
    expect(decays('conv1/bias', [8])).toBe(false);
    expect(decays('bn1/gamma', [8])).toBe(false);
    expect(decays('ln/beta', [8])).toBe(false);
    expect(decays('vit/pos_embedding', [1, 17, 64])).toBe(false);
    expect(decays('vit/position_embedding', [1, 17, 64])).toBe(false);
    expect(decays('vit/cls_token', [1, 1, 64])).toBe(false);
  });

  it('L2 adds wd * w to decaying gradients only', () => {
    const kernel = tf.variable(tf.tensor2d([[1, -2]]));
    const bias = tf.variable(tf.tensor1d([5]));
    const out = tf.tidy(() => addL2([tf.tensor2d([[0.5, 0.5]]), tf.tensor1d([1])], [kernel, bias], [true, false], 0.1).map((t) => Array.from(t.dataSync())));
    closeTo(out[0]!, [0.6, 0.3]);
    closeTo(out[1]!, [1]);
    tf.dispose([kernel, bias]);
  });

  it('AdamW decays decoupled from the gradient: w *= 1 - lr * wd, with zero gradients moving nothing else', () => {
    const kernel = tf.variable(tf.tensor2d([[1, -2]]));
    const bias = tf.variable(tf.tensor1d([5]));
    const opt = createOptimizer({ kind: 'adamw', learningRate: 0.1, momentum: 0 });
    tf.tidy(() => opt.applyGradients([{ name: kernel.name, tensor: tf.zeros([1, 2]) }, { name: bias.name, tensor: tf.zeros([1]) }]));
    applyDecoupledDecay([kernel, bias], [true, false], 0.1, 0.5);
    closeTo(Array.from(kernel.dataSync()), [0.95, -1.9]);
    closeTo(Array.from(bias.dataSync()), [5]);
    opt.dispose();
    tf.dispose([kernel, bias]);
  });

  it('clips to the global norm, keeping the direction, and leaves small gradients alone', () => {
    const [clipped, small] = tf.tidy(() => {
      const grads = [tf.tensor1d([3, 0]), tf.tensor2d([[0, 4]])]; // norm 5
      return [
        clipByGlobalNorm(grads, 1).map((t) => Array.from(t.dataSync())),
        clipByGlobalNorm(grads, 10).map((t) => Array.from(t.dataSync())),
      ];
    });
    closeTo(clipped!.flat(), [0.6, 0, 0, 0.8]);
    closeTo(small!.flat(), [3, 0, 0, 4]);
    expect(tf.tidy(() => globalNorm([tf.tensor1d([3]), tf.tensor1d([4])]).dataSync()[0])).toBeCloseTo(5, 6);
  });
});
