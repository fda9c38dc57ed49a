import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend.js';
import {
  batchNormGradientInstalled, installBatchNormGradient, uninstallBatchNormGradient,
} from '../../../src/ml/kernels/batch-norm-grad.js';
import { seededUniform } from '../../../src/ml/seeded-random.js';

const TOLERANCE = 1e-4;

beforeAll(async () => {
  await initBackend('cpu');
  await initBackend('wasm'); // installs our gradient
});

interface Case {
  rank: 2 | 4;
  /** With beta (offset); gamma (scale) is always there: tfjs-core cannot differentiate batchNorm without it. */
  affine: boolean;
  /** Channels: 5, or 8 (the SIMD pass on wasm takes channels in fours). */
  channels?: number;
}

/**
 * Gradients of sum((relu(bn(conv(x))) * w)) w.r.t. input, filter, gamma, beta, with batch
 * statistics from tf.moments as in tfjs-layers' training path. 2-D case: dense instead of conv.
 */
async function gradients(backend: 'cpu' | 'wasm', { rank, affine, channels }: Case): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const c = channels ?? 5;
  const xShape = rank === 4 ? [3, 6, 6, 2] : [7, 4];
  const fShape = rank === 4 ? [3, 3, 2, c] : [4, c];
  const outShape = rank === 4 ? [3, 6, 6, c] : [7, c];
  const n = (s: number[]): number => s.reduce((a, b) => a * b, 1);
  const x = tf.tensor(seededUniform(n(xShape), 1, -1, 1), xShape);
  const f = tf.tensor(seededUniform(n(fShape), 2, -1, 1), fShape);
  const gamma = tf.tensor1d(seededUniform(c, 3, 0.5, 1.5));
  const beta = tf.tensor1d(seededUniform(c, 4, -0.5, 0.5));
  const w = tf.tensor(seededUniform(n(outShape), 5, -1, 1), outShape);
  const xs = affine ? [x, f, gamma, beta] : [x, f, gamma];
  const grads = tf.grads((...args: tf.Tensor[]) => {
    const [xi, fi, g, b] = args as [tf.Tensor, tf.Tensor, tf.Tensor | undefined, tf.Tensor | undefined];
    const z = rank === 4 ? tf.conv2d(xi as tf.Tensor4D, fi as tf.Tensor4D, 1, 'same') : tf.matMul(xi as tf.Tensor2D, fi as tf.Tensor2D);
    const { mean, variance } = tf.moments(z, rank === 4 ? [0, 1, 2] : [0]);
    const y = tf.relu(tf.batchNorm(z, mean, variance, affine ? b : undefined, g, 1e-3));
    return tf.sum(tf.mul(y, w));
  })(xs);
  const values = await Promise.all(grads.map(async (g) => (await g.data()) as Float32Array));
  tf.dispose([...grads, x, f, gamma, beta, w]);
  return values;
}

function worst(a: Float32Array[], b: Float32Array[]): number {
  expect(a.map((v) => v.length)).toEqual(b.map((v) => v.length));
  let e = 0;
  a.forEach((va, k) => va.forEach((v, i) => {
    const ref = b[k]![i]!;
    e = Math.max(e, Math.abs(v - ref) / Math.max(1, Math.abs(ref)));
  }));
  return e;
}

// Without offset (or scale) tfjs-core's engine cannot differentiate batchNorm at all (its tape
// reads the absent input's id), before any gradient function runs, so those cases are not here.
const CASES: Case[] = [
  { rank: 4, affine: true },
  { rank: 2, affine: true },
  { rank: 4, affine: true, channels: 8 },
  { rank: 2, affine: true, channels: 8 },
];

describe('FusedBatchNorm gradient override', () => {
  it('is installed in the registry the engine consults', () => {
    expect(batchNormGradientInstalled()).toBe(true);
  });

  for (const c of CASES) {
    it(`matches tfjs-core's gradient (rank ${c.rank}, ${c.channels ?? 5} channels, scale, ${c.affine ? 'with' : 'without'} offset)`, async () => {
      uninstallBatchNormGradient();
      let reference: Float32Array[];
      try {
        reference = await gradients('cpu', c);
      } finally {
        installBatchNormGradient();
      }
      const cpu = await gradients('cpu', c);
      const wasm = await gradients('wasm', c);
      expect(worst(cpu, reference)).toBeLessThan(TOLERANCE);
      expect(worst(wasm, cpu)).toBeLessThan(TOLERANCE);
      expect(worst(wasm, reference)).toBeLessThan(TOLERANCE);
      // The inputs' gradient is not trivially zero (the moments path contributes).
      expect(reference[0]!.some((v) => Math.abs(v) > 1e-3)).toBe(true);
    });
  }

  it('uses the fused kernel on wasm and no Tile', async () => {
    await tf.setBackend('wasm');
    const profile = await tf.profile(async () => {
      await gradients('wasm', { rank: 4, affine: true });
    });
    const names = profile.kernels.map((k) => k.name);
    expect(names).toContain('BatchNormGradProject');
    expect(names).not.toContain('Tile');
  });

  it('does not leak tensors across repeated steps', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await gradients(backend, { rank: 4, affine: true });
      await tf.setBackend(backend);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) await gradients(backend, { rank: 4, affine: true });
      await tf.setBackend(backend);
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});
