import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend.js';
import { sparseFocalLoss, sparseSoftmaxCrossEntropy, trainingLoss, validateLoss } from '../../../src/ml/losses.js';

// logits [2, 0, 0]: p = [e^2, 1, 1] / (e^2 + 2)
const E2 = Math.exp(2);
const P0 = E2 / (E2 + 2);
const P1 = 1 / (E2 + 2);

function scalarOf(f: () => tf.Scalar): number {
  return tf.tidy(() => f().dataSync()[0]!);
}

function gradOf(f: (logits: tf.Tensor2D) => tf.Scalar, logits: number[][]): number[] {
  return tf.tidy(() => Array.from(tf.grad((x: tf.Tensor) => f(x as tf.Tensor2D))(tf.tensor2d(logits)).dataSync()));
}

const LOGITS = [[2, 0, 0], [0.5, -1, 3], [1, 1, 1], [-2, 4, 0]];
const LABELS = [0, 2, 1, 0];

describe.each(['wasm', 'cpu'] as const)('losses on %s', (backend) => {
  it('cross-entropy with label smoothing eps uses targets (1-eps)*onehot + eps/K', async () => {
    await initBackend(backend);
    const labels = (): tf.Tensor1D => tf.tensor1d([0], 'int32');
    expect(scalarOf(() => sparseSoftmaxCrossEntropy(tf.tensor2d([[2, 0, 0]]), labels()))).toBeCloseTo(0.2395447, 5);
    // targets [0.8, 0.1, 0.1]: 0.8 * -log p0 + 0.2 * -log p1 = -log p0 + 0.2 * 2
    expect(scalarOf(() => sparseSoftmaxCrossEntropy(tf.tensor2d([[2, 0, 0]]), labels(), 0.3))).toBeCloseTo(0.6395447, 5);
    // Its gradient is softmax - targets.
    const grad = gradOf((x) => sparseSoftmaxCrossEntropy(x, tf.tensor1d([0], 'int32'), 0.3), [[2, 0, 0]]);
    [P0 - 0.8, P1 - 0.1, P1 - 0.1].forEach((g, i) => expect(grad[i]).toBeCloseTo(g, 5));
  });

  it('focal loss is -alpha (1-p_t)^gamma log p_t, mean over the batch', async () => {
    await initBackend(backend);
    const one = 0.25 * (1 - P0) ** 2 * -Math.log(P0);
    expect(one).toBeCloseTo(0.0027174, 6);
    expect(scalarOf(() => sparseFocalLoss(tf.tensor2d([[2, 0, 0]]), tf.tensor1d([0], 'int32')))).toBeCloseTo(one, 6);
    const expected = LOGITS.map((row, i) => {
      const z = row.map((v) => Math.exp(v));
      const pt = z[LABELS[i]!]! / z.reduce((a, b) => a + b, 0);
      return -0.5 * (1 - pt) ** 1.5 * Math.log(pt);
    }).reduce((a, b) => a + b, 0) / LOGITS.length;
    expect(scalarOf(() => sparseFocalLoss(tf.tensor2d(LOGITS), tf.tensor1d(LABELS, 'int32'), 0.5, 1.5))).toBeCloseTo(expected, 6);
    // gamma 0 is alpha-weighted cross-entropy.
    const ce = scalarOf(() => sparseSoftmaxCrossEntropy(tf.tensor2d(LOGITS), tf.tensor1d(LABELS, 'int32')));
    expect(scalarOf(() => sparseFocalLoss(tf.tensor2d(LOGITS), tf.tensor1d(LABELS, 'int32'), 0.5, 0))).toBeCloseTo(0.5 * ce, 6);
  });

  it('focal loss gradients match central differences of the loss', async () => {
    await initBackend(backend);
    const f = (x: tf.Tensor2D): tf.Scalar => sparseFocalLoss(x, tf.tensor1d(LABELS, 'int32'), 0.25, 2);
    const grad = gradOf(f, LOGITS);
    const flat = LOGITS.flat();
    const h = 1e-2;
    flat.forEach((_, i) => {
      const at = (delta: number): number => {
        const shifted = flat.map((v, j) => (j === i ? v + delta : v));
        return scalarOf(() => f(tf.tensor2d(shifted, [4, 3])));
      };
      expect(grad[i]).toBeCloseTo((at(h) - at(-h)) / (2 * h), 3);
    });
    expect(grad.every(Number.isFinite)).toBe(true);
  });

  it('focal loss stays finite with its gradient when p_t is 1 in float32', async () => {
    await initBackend(backend);
    const f = (x: tf.Tensor2D): tf.Scalar => sparseFocalLoss(x, tf.tensor1d([0], 'int32'));
    expect(Number.isFinite(scalarOf(() => f(tf.tensor2d([[40, 0, 0]]))))).toBe(true);
    expect(gradOf(f, [[40, 0, 0]]).every(Number.isFinite)).toBe(true);
  });

  it('trainingLoss dispatches on the spec', async () => {
    await initBackend(backend);
    const run = (spec: Parameters<typeof trainingLoss>[0]): number => scalarOf(() => trainingLoss(spec, tf.tensor2d([[2, 0, 0]]), tf.tensor1d([0], 'int32')));
    expect(run(undefined)).toBeCloseTo(0.2395447, 5);
    expect(run({ kind: 'cross-entropy', labelSmoothing: 0.3 })).toBeCloseTo(0.6395447, 5);
    expect(run({ kind: 'focal' })).toBeCloseTo(0.0027174, 6);
  });
});

describe('validateLoss', () => {
  it('names the bad field', () => {
    expect(() => validateLoss({ kind: 'cross-entropy', labelSmoothing: 1 })).toThrow('spec.loss.labelSmoothing must be in [0, 1), got 1');
    expect(() => validateLoss({ kind: 'focal', gamma: -1 })).toThrow('spec.loss.gamma must be a finite number >= 0, got -1');
    expect(() => validateLoss({ kind: 'focal', alpha: 0 })).toThrow('spec.loss.alpha must be a finite number > 0, got 0');
  });
});
