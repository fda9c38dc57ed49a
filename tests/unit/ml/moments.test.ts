import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend.js';
import { fusedMoments, MOMENTS_GRAD_KERNEL, MOMENTS_KERNEL, MOVING_MOMENTS_KERNEL, movingMoments } from '../../../src/ml/kernels/moments.js';
import { batchNormalization } from '../../../src/ml/layers/batch-norm.js';
import { BATCH_NORM_TRAIN_GRAD_KERNEL } from '../../../src/ml/kernels/batch-norm-train.js';
import { seededUniform } from '../../../src/ml/seeded-random.js';

beforeAll(async () => {
  await initBackend('cpu');
  await initBackend('wasm');
});

function worst(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return e;
}

/** Mean, variance and the gradient of sum(mean * u + variance * w) with respect to x. */
async function momentsAndGradient(backend: 'cpu' | 'wasm', shape: number[], fused: boolean): Promise<Float32Array[]> {
  await tf.setBackend(backend);
  const c = shape[shape.length - 1]!;
  const x = tf.tensor(seededUniform(tf.util.sizeFromShape(shape), 1, -3, 5), shape);
  const u = tf.tensor1d(seededUniform(c, 2, -1, 1));
  const w = tf.tensor1d(seededUniform(c, 3, -1, 1));
  const moments = (t: tf.Tensor) => (fused ? fusedMoments(t) : tf.moments(t, Array.from({ length: t.rank - 1 }, (_, i) => i)));
  const { mean, variance } = moments(x);
  const dx = tf.grad((t: tf.Tensor) => {
    const m = moments(t);
    return tf.add(tf.sum(tf.mul(m.mean, u)), tf.sum(tf.mul(m.variance, w)));
  })(x);
  const out = [await mean.data(), await variance.data(), await dx.data()] as Float32Array[];
  tf.dispose([x, u, w, mean, variance, dx]);
  return out;
}

describe('batch-norm moments in one SIMD pass each way (fusedMoments)', () => {
  it.each([[[4, 6, 6, 8]], [[3, 5, 7, 12]], [[9, 16]]])('match tf.moments and its gradient on the cpu backend, x=%j', async (shape) => {
    const reference = await momentsAndGradient('cpu', shape, false);
    const fused = await momentsAndGradient('wasm', shape, true);
    for (let k = 0; k < 3; k++) expect(worst(fused[k]!, reference[k]!), ['mean', 'variance', 'dx'][k]).toBeLessThan(1e-5);
  });

  it('run as the two project kernels on wasm, and leak no tensors', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(seededUniform(2 * 3 * 3 * 4, 4, -1, 1), [2, 3, 3, 4]);
    const before = tf.memory().numTensors;
    const profile = await tf.profile(() => {
      const g = tf.grad((t: tf.Tensor) => {
        const { mean, variance } = fusedMoments(t);
        return tf.add(tf.sum(mean), tf.sum(variance));
      })(x);
      g.dispose();
    });
    expect(profile.kernelNames).toEqual(expect.arrayContaining([MOMENTS_KERNEL, MOMENTS_GRAD_KERNEL]));
    expect(profile.kernelNames).not.toContain('Square');
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });

  it('falls back to tf.moments where the channels do not come in fours', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor2d(seededUniform(5 * 3, 5, -1, 1), [5, 3]);
    const profile = await tf.profile(() => {
      const { mean, variance } = fusedMoments(x);
      tf.dispose([mean, variance]);
    });
    expect(profile.kernelNames).not.toContain(MOMENTS_KERNEL);
    x.dispose();
  });
});

describe('movingMoments: both moving averages of a batch-norm layer', () => {
  it('in one kernel on wasm, bit for bit what the tf ops give, with a clear error for mismatched statistics', async () => {
    await tf.setBackend('wasm');
    const c = 12;
    const [mm, mv, m, v] = [11, 12, 13, 14].map((seed) => tf.tensor1d(seededUniform(c, seed, 0, 3)));
    const momentum = 0.99;
    const reference = tf.tidy(() => [
      tf.sub(mm!, tf.mul(tf.sub(mm!, m!), 1 - momentum)),
      tf.sub(mv!, tf.mul(tf.sub(mv!, v!), 1 - momentum)),
    ]);
    let out: tf.Tensor[] = [];
    const profile = await tf.profile(() => {
      out = movingMoments(mm!, mv!, m!, v!, momentum);
    });
    expect(profile.kernelNames).toEqual([MOVING_MOMENTS_KERNEL]);
    for (let k = 0; k < 2; k++) expect(Array.from(await out[k]!.data())).toEqual(Array.from(await reference[k]!.data()));
    const short = tf.tensor1d([1, 2, 3]);
    expect(() => tf.engine().runKernel(MOVING_MOMENTS_KERNEL, { movingMean: mm!, movingVariance: mv!, mean: m!, variance: short }, { momentum } as unknown as tf.NamedAttrMap))
      .toThrow(/variance must be float32 of shape \[12\], got float32 \[3\]/);
    tf.dispose([mm!, mv!, m!, v!, short, ...reference, ...out]);
  });
});

describe('batchNormalization: tfjs-layers\' layer, training on fusedMoments', () => {
  function model(ours: boolean): tf.LayersModel {
    const input = tf.input({ shape: [5, 5, 8] });
    const args = { name: 'bn', momentum: 0.9, epsilon: 1e-3, gammaInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: 6 }), betaInitializer: tf.initializers.randomNormal({ seed: 7 }) };
    const y = (ours ? batchNormalization(args) : tf.layers.batchNormalization(args)).apply(input) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: y });
  }

  it('the same outputs, gradients and moving statistics as tf.layers.batchNormalization, and the same serialisation', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(seededUniform(3 * 5 * 5 * 8, 8, -2, 4), [3, 5, 5, 8]);
    const w = tf.tensor4d(seededUniform(3 * 5 * 5 * 8, 9, -1, 1), [3, 5, 5, 8]);
    const run = async (m: tf.LayersModel) => {
      const variables = m.trainableWeights.map((v) => v.read() as tf.Variable);
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(m.apply(x, { training: true }) as tf.Tensor, w)) as tf.Scalar, variables);
      const inference = m.apply(x, { training: false }) as tf.Tensor;
      const out = {
        loss: (await value.data())[0]!,
        grads: await Promise.all(variables.map(async (v) => (await grads[v.name]!.data()) as Float32Array)),
        moving: await Promise.all(m.getWeights().map(async (t) => (await t.data()) as Float32Array)),
        inference: (await inference.data()) as Float32Array,
        json: (m.toJSON(null, false) as unknown as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } }).config.layers[1]!,
      };
      tf.dispose([value, inference, ...Object.values(grads)]);
      return out;
    };
    const a = await run(model(true));
    const b = await run(model(false));
    expect(a.loss).toBeCloseTo(b.loss, 3);
    a.grads.forEach((g, i) => expect(worst(g, b.grads[i]!)).toBeLessThan(1e-4));
    a.moving.forEach((v, i) => expect(worst(v, b.moving[i]!)).toBeLessThan(1e-5));
    expect(worst(a.inference, b.inference)).toBeLessThan(1e-5);
    expect(a.json.class_name).toBe('BatchNormalization');
    // Its gradient is one kernel (two passes), not FusedBatchNorm's, the moments' and an Add.
    const ours = model(true);
    const variables = ours.trainableWeights.map((v) => v.read() as tf.Variable);
    const profile = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(ours.apply(x, { training: true }) as tf.Tensor, w)) as tf.Scalar, variables);
      tf.dispose([value, ...Object.values(grads)]);
    });
    expect(profile.kernelNames).toContain(BATCH_NORM_TRAIN_GRAD_KERNEL);
    for (const name of [MOMENTS_GRAD_KERNEL, 'BatchNormGradProject', 'Add']) expect(profile.kernelNames).not.toContain(name);
    expect({ ...a.json.config, name: 'x' }).toEqual({ ...b.json.config, name: 'x' });
    tf.dispose([x, w]);
  });
});

describe('batch norm training gradient as one kernel (batchNormTrain)', () => {
  it.each([[[5, 6, 6, 12]], [[3, 7, 5, 8]], [[33, 16]]])('matches tfjs-layers\' batch norm on the cpu backend, x=%j', async (shape) => {
    const c = shape[shape.length - 1]!;
    const size = shape.reduce((a, b) => a * b, 1);
    const run = async (backend: 'cpu' | 'wasm'): Promise<Float32Array[]> => {
      await tf.setBackend(backend);
      const input = tf.input({ shape: shape.slice(1) });
      const args = { momentum: 0.9, epsilon: 1e-3, gammaInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 1.5, seed: 16 }), betaInitializer: tf.initializers.randomNormal({ seed: 17 }) };
      const layer = backend === 'wasm' ? batchNormalization(args) : tf.layers.batchNormalization(args);
      const m = tf.model({ inputs: input, outputs: layer.apply(input) as tf.SymbolicTensor });
      const x = tf.tensor(seededUniform(size, 18, -2, 4), shape);
      const w = tf.tensor(seededUniform(size, 19, -1, 1), shape);
      const variables = m.trainableWeights.map((v) => v.read() as tf.Variable);
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(m.apply(x, { training: true }) as tf.Tensor, w)) as tf.Scalar, variables);
      const dx = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(m.apply(t, { training: true }) as tf.Tensor, w)))(x);
      const out = [...await Promise.all(variables.map(async (v) => (await grads[v.name]!.data()) as Float32Array)), (await dx.data()) as Float32Array];
      expect(out.length).toBe(3);
      expect(out[0]!.length).toBe(c);
      tf.dispose([x, w, dx, ...Object.values(grads)]);
      m.dispose();
      return out;
    };
    const reference = await run('cpu');
    const ours = await run('wasm');
    ['dgamma', 'dbeta', 'dx'].forEach((name, i) => expect(worst(ours[i]!, reference[i]!), name).toBeLessThan(1e-4));
  });
});
