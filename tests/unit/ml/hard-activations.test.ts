import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend.js';
import { hardActivation, hardActivationKernel, type HardKind } from '../../../src/ml/kernels/hard-activations.js';
import { activate } from '../../../src/ml/layers/activation.js';
import { seededUniform } from '../../../src/ml/seeded-random.js';

beforeAll(async () => {
  await initBackend('cpu');
  await initBackend('wasm');
});

/** The activation as MobileNetV3 defines it, from primitive ops (what tfjs autodiff differentiates). */
function opForm(kind: HardKind, x: tf.Tensor): tf.Tensor {
  const h = tf.relu6(tf.add(x, 3)).div(6);
  return kind === 'hard-swish' ? tf.mul(x, h) : h;
}

/** Random values, every kink and the values either side of them. */
function inputs(): Float32Array {
  const values = Array.from(seededUniform(3000, 5, -8, 8));
  for (const v of [-3, 3, 0, -6, 6]) values.push(v, Math.fround(v - 1e-6), Math.fround(v + 1e-6), v - 0.5, v + 0.5);
  return Float32Array.from(values);
}

async function valuesAndGradients(backend: 'cpu' | 'wasm', f: (x: tf.Tensor) => tf.Tensor): Promise<[Float32Array, Float32Array]> {
  await tf.setBackend(backend);
  const x = tf.tensor1d(inputs());
  const dy = tf.tensor1d(seededUniform(x.size, 6, -2, 2));
  const y = f(x);
  const dx = tf.grad((t: tf.Tensor) => f(t))(x, dy);
  const out: [Float32Array, Float32Array] = [(await y.data()) as Float32Array, (await dx.data()) as Float32Array];
  tf.dispose([x, dy, y, dx]);
  return out;
}

describe('hard-swish and hard-sigmoid as one kernel each way', () => {
  it.each([
    ['hard-swish', 'cpu'], ['hard-swish', 'wasm'], ['hard-sigmoid', 'cpu'], ['hard-sigmoid', 'wasm'],
  ] as [HardKind, 'cpu' | 'wasm'][])('%s on %s: the same values and gradients as the op form, kinks included', async (kind, backend) => {
    const [y, dx] = await valuesAndGradients(backend, (x) => hardActivation(kind, x));
    const [yRef, dxRef] = await valuesAndGradients(backend, (x) => opForm(kind, x));
    expect(Array.from(y)).toEqual(Array.from(yRef));
    for (let i = 0; i < dx.length; i++) expect(Math.abs(dx[i]! - dxRef[i]!), `gradient at ${inputs()[i]}`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(dxRef[i]!)));
  });

  it('is what the activation layer runs on wasm and cpu, and leaks no tensors', async () => {
    for (const backend of ['cpu', 'wasm'] as const) {
      await tf.setBackend(backend);
      const x = tf.tensor4d(seededUniform(2 * 3 * 3 * 4, 7, -5, 5), [2, 3, 3, 4]);
      expect(hardActivationKernel(x)).toBe(true);
      const before = tf.memory().numTensors;
      const g = tf.grad((t: tf.Tensor) => tf.sum(activate('hard-swish', t)))(x);
      g.dispose();
      expect(tf.memory().numTensors).toBe(before);
      x.dispose();
    }
  });
});
