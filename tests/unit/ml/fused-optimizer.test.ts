import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend.js';
import { FusedAdamOptimizer, FusedMomentumOptimizer } from '../../../src/ml/fused-optimizer.js';
import { optimizerToBytes, restoreOptimizer, setLearningRate } from '../../../src/ml/optimizer-bytes.js';
import { seededUniform } from '../../../src/ml/seeded-random.js';

const SHAPES = [[3, 3, 4, 8], [8], [37], [5, 7]];
/** With a variable above the size where the JS pass hands over to tfjs's kernels (without SIMD). */
const LARGE_SHAPES = [[3, 3, 4, 8], [130, 131], [37], [5, 7]];
const STEPS = 300;

beforeAll(async () => {
  await initBackend('cpu');
  await initBackend('wasm');
});

function makeVariables(prefix: string, shapes = SHAPES): tf.Variable[] {
  return shapes.map((shape, i) => tf.variable(tf.tensor(seededUniform(tf.util.sizeFromShape(shape), 100 + i, -1, 1), shape), true, `${prefix}${i}`));
}

/**
 * Optimizer steps `fromStep` to `toStep` on seeded gradients of varied scale and a varying
 * learning rate. After each step the weights feed a convolution and a matmul, whose outputs
 * are returned: the wasm backend caches those operators with packed weights per tensor, so a
 * step must reach them, not only the variable's values.
 */
function descend(optimizer: tf.Optimizer, variables: tf.Variable[], fromStep: number, toStep: number): number[] {
  const seen: number[] = [];
  for (let step = fromStep; step < toStep; step++) {
    setLearningRate(optimizer, 1e-2 * (1 + Math.cos(step / 40)) + 1e-4);
    tf.tidy(() => {
      const scale = 10 ** ((step % 7) - 4);
      optimizer.applyGradients(variables.map((v, i) => ({
        name: v.name,
        tensor: tf.mul(tf.tensor(seededUniform(v.size, step * 31 + i, -1, 1), v.shape), scale),
      })));
    });
    seen.push(...tf.tidy(() => [
      tf.conv2d(tf.ones([1, 5, 5, 4]) as tf.Tensor4D, variables[0] as tf.Tensor4D, 1, 'same').sum(),
      tf.matMul(tf.ones([2, 5]), variables[3] as tf.Tensor2D).sum(),
    ]).map((t) => {
      const value = t.dataSync()[0]!;
      t.dispose();
      return value;
    }));
  }
  return seen;
}

function worstRelativeOf(a: number[], b: number[]): number {
  return Math.max(...a.map((x, i) => Math.abs(x - b[i]!) / Math.max(1e-3, Math.abs(b[i]!))));
}

function worstRelative(a: tf.Variable[], b: tf.Variable[]): number {
  let worst = 0;
  a.forEach((v, i) => {
    const x = v.dataSync();
    const y = b[i]!.dataSync();
    for (let j = 0; j < x.length; j++) worst = Math.max(worst, Math.abs(x[j]! - y[j]!) / Math.max(1e-3, Math.abs(y[j]!)));
  });
  return worst;
}

const KINDS = [
  { name: 'adam', stock: () => tf.train.adam(1e-2), fused: () => new FusedAdamOptimizer(1e-2, 0.9, 0.999), settings: { kind: 'adam', learningRate: 1e-2, momentum: 0 } },
  { name: 'momentum', stock: () => tf.train.momentum(1e-2, 0.9), fused: () => new FusedMomentumOptimizer(1e-2, 0.9), settings: { kind: 'sgd', learningRate: 1e-2, momentum: 0.9 } },
  { name: 'nesterov', stock: () => tf.train.momentum(1e-2, 0.9, true), fused: () => new FusedMomentumOptimizer(1e-2, 0.9, true), settings: { kind: 'sgd', learningRate: 1e-2, momentum: 0.9, nesterov: true } },
] as const;

describe.each(KINDS)('fused $name on wasm', (kind) => {
  it(`matches tfjs's own optimizer bit for bit over ${STEPS} steps and runs no kernels`, async () => {
    await tf.setBackend('wasm');
    const stockVars = makeVariables(`stock-${kind.name}-`);
    const fusedVars = makeVariables(`fused-${kind.name}-`);
    const stock = kind.stock();
    const fused = kind.fused();
    const stockSeen = descend(stock, stockVars, 0, STEPS);
    const fusedSeen = descend(fused, fusedVars, 0, 1);
    const before = tf.memory().numTensors;
    const profile = await tf.profile(() => {
      fusedSeen.push(...descend(fused, fusedVars, 1, STEPS));
    });
    expect(tf.memory().numTensors).toBe(before);
    // Only the test's own kernels: gradient scaling and the forward passes.
    expect(new Set(profile.kernels.map((k) => k.name))).toEqual(new Set(['Multiply', 'Conv2D', 'Sum', 'BatchMatMul']));
    expect(worstRelativeOf(fusedSeen, stockSeen)).toBe(0);
    expect(worstRelative(fusedVars, stockVars)).toBe(0);
    const stockSlots = await stock.getWeights();
    const fusedSlots = await fused.getWeights();
    expect(fusedSlots.map((w) => w.name.replace('fused', 'stock'))).toEqual(stockSlots.map((w) => w.name));
    expect(worstRelative(fusedSlots.slice(1).map((w) => w.tensor as tf.Variable), stockSlots.slice(1).map((w) => w.tensor as tf.Variable))).toBeLessThanOrEqual(1e-6);
    tf.dispose([stockSlots[0]!.tensor, fusedSlots[0]!.tensor]);
    stock.dispose();
    fused.dispose();
    tf.dispose([...stockVars, ...fusedVars]);
  });

  it('matches it bit for bit with large variables, each in one SIMD pass', async () => {
    await tf.setBackend('wasm');
    const stockVars = makeVariables(`stock-large-${kind.name}-`, LARGE_SHAPES);
    const fusedVars = makeVariables(`fused-large-${kind.name}-`, LARGE_SHAPES);
    const stock = kind.stock();
    const fused = kind.fused();
    const stockSeen = descend(stock, stockVars, 0, 40);
    const before = tf.memory().numTensors;
    const fusedSeen = descend(fused, fusedVars, 0, 1);
    const profile = await tf.profile(() => {
      fusedSeen.push(...descend(fused, fusedVars, 1, 40));
    });
    expect(new Set(profile.kernels.map((k) => k.name))).toEqual(new Set(['Multiply', 'Conv2D', 'Sum', 'BatchMatMul']));
    expect(tf.memory().numTensors).toBe(before + (kind.name === 'adam' ? 2 : 1) * LARGE_SHAPES.length);
    expect(worstRelativeOf(fusedSeen, stockSeen)).toBe(0);
    expect(worstRelative(fusedVars, stockVars)).toBe(0);
    stock.dispose();
    fused.dispose();
    tf.dispose([...stockVars, ...fusedVars]);
  });

  it('resumes from its bytes to the same weights as an uninterrupted run', async () => {
    await tf.setBackend('wasm');
    const straightVars = makeVariables(`straight-${kind.name}-`);
    const resumedVars = makeVariables(`resumed-${kind.name}-`);
    const straight = kind.fused();
    descend(straight, straightVars, 0, 60);
    const first = kind.fused();
    descend(first, resumedVars, 0, 25);
    const bytes = await optimizerToBytes(first, kind.settings);
    first.dispose();
    const resumed = await restoreOptimizer(bytes, kind.settings);
    expect(resumed).toBeInstanceOf(kind.name === 'adam' ? FusedAdamOptimizer : FusedMomentumOptimizer);
    descend(resumed, resumedVars, 25, 60);
    expect(worstRelative(resumedVars, straightVars)).toBe(0);
    straight.dispose();
    resumed.dispose();
    tf.dispose([...straightVars, ...resumedVars]);
  });
});

describe('fused optimizers off wasm', () => {
  it('take the stock path on cpu', async () => {
    await tf.setBackend('cpu');
    const a = makeVariables('cpu-stock-');
    const b = makeVariables('cpu-fused-');
    descend(tf.train.adam(1e-2), a, 0, 20);
    descend(new FusedAdamOptimizer(1e-2, 0.9, 0.999), b, 0, 20);
    expect(worstRelative(b, a)).toBe(0);
    tf.dispose([...a, ...b]);
  });
});
