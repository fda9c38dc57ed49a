import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend.js';
import { PROJECT_WASM_KERNELS } from '../../../src/ml/kernels/register-wasm-kernels.js';
import { setMinSplitWork, splitCallBatches } from '../../../src/ml/kernels/simd/simd-calls.js';
import { seededUniform } from '../../../src/ml/seeded-random.js';

type Shape = number[];
type Pad = 'same' | 'valid';
const TOLERANCE = 1e-4;

beforeAll(async () => {
  await initBackend('cpu');
  await initBackend('wasm');
});

function size(shape: Shape): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Runs `kernel` on one backend with inputs built from seeded data; returns the output values. */
async function runOn(
  backend: 'cpu' | 'wasm',
  kernel: string,
  inputs: Record<string, { shape: Shape; seed: number } | ((made: Record<string, tf.Tensor>) => tf.Tensor)>,
  attrs: Record<string, unknown>,
): Promise<Float32Array> {
  await tf.setBackend(backend);
  const made: Record<string, tf.Tensor> = {};
  for (const [name, spec] of Object.entries(inputs)) {
    made[name] = typeof spec === 'function' ? spec(made) : tf.tensor(seededUniform(size(spec.shape), spec.seed, -1, 1), spec.shape);
  }
  const out = tf.engine().runKernel(kernel, made as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as tf.Tensor;
  const values = (await out.data()) as Float32Array;
  out.dispose();
  for (const t of Object.values(made)) t.dispose();
  return values;
}

/** Largest |wasm - cpu| / max(1, |cpu|) over the kernel's output. */
async function worstError(kernel: string, inputs: Parameters<typeof runOn>[2], attrs: Record<string, unknown>): Promise<number> {
  const reference = await runOn('cpu', kernel, inputs, attrs);
  const ours = await runOn('wasm', kernel, inputs, attrs);
  expect(ours.length).toBe(reference.length);
  let worst = 0;
  for (let i = 0; i < reference.length; i++) {
    worst = Math.max(worst, Math.abs(ours[i]! - reference[i]!) / Math.max(1, Math.abs(reference[i]!)));
  }
  return worst;
}

async function depthwiseOutShape(xShape: Shape, fShape: Shape, s: number, pad: Pad, d: number): Promise<Shape> {
  await tf.setBackend('cpu');
  const x = tf.zeros<tf.Rank.R4>(xShape as [number, number, number, number]);
  const f = tf.zeros<tf.Rank.R4>(fShape as [number, number, number, number]);
  const shape = tf.tidy(() => tf.depthwiseConv2d(x, f, s, pad, 'NHWC', d).shape);
  tf.dispose([x, f]);
  return shape;
}

function convOut(inSize: number, k: number, s: number, pad: Pad): number {
  return pad === 'same' ? Math.ceil(inSize / s) : Math.ceil((inSize - k + 1) / s);
}

// [x shape NHWC, filter [kh, kw, ci, co], stride, pad]: odd sizes, stride 2, both paddings,
// a single input channel (first layers), windows that leave trailing rows unused.
const CONV_CASES: [Shape, Shape, number, Pad][] = [
  [[2, 9, 9, 3], [3, 3, 3, 4], 1, 'same'],
  [[2, 9, 9, 3], [3, 3, 3, 4], 1, 'valid'],
  [[2, 10, 11, 3], [3, 3, 3, 5], 2, 'same'],
  [[2, 10, 11, 3], [3, 3, 3, 5], 2, 'valid'],
  [[1, 30, 30, 2], [3, 3, 2, 3], 2, 'valid'],
  [[3, 8, 8, 4], [2, 2, 4, 2], 2, 'valid'],
  [[2, 7, 7, 2], [5, 5, 2, 3], 1, 'same'],
  [[4, 28, 28, 1], [3, 3, 1, 8], 1, 'valid'],
  [[2, 9, 9, 1], [3, 3, 1, 4], 2, 'same'],
  [[2, 13, 13, 8], [3, 3, 8, 16], 1, 'valid'],
  // im2col then SIMD passes (output channels in eights): a stem on RGB, stride 2; grey; two channels; a 7x7 stem.
  [[2, 11, 10, 3], [3, 3, 3, 8], 2, 'same'],
  [[2, 9, 9, 1], [3, 3, 1, 16], 1, 'valid'],
  [[2, 8, 8, 2], [3, 3, 2, 8], 1, 'same'],
  [[1, 13, 13, 3], [7, 7, 3, 8], 2, 'same'],
  // Stride 1, channels in fours and eights (tap-row passes): a 'same' border, a filter wider than half the image, a tall one.
  [[2, 9, 7, 4], [3, 3, 4, 8], 1, 'same'],
  [[2, 6, 6, 8], [5, 5, 8, 8], 1, 'same'],
  [[1, 5, 11, 12], [3, 1, 12, 24], 1, 'valid'],
  [[2, 12, 12, 3], [5, 5, 3, 4], 3, 'same'],
  // Few filter rows (the im2col path): a 'same' border, an even filter, a 1x1 filter.
  [[2, 8, 8, 1], [3, 3, 1, 4], 1, 'same'],
  [[2, 9, 8, 1], [4, 4, 1, 3], 1, 'same'],
  [[2, 6, 6, 16], [1, 1, 16, 4], 1, 'valid'],
  // Input channels in 32s at stride 1: the input gradient by tap passes ('same' with odd and even
  // filters, 'valid', 1x1, 5x5, several 32-blocks).
  [[2, 7, 7, 32], [3, 3, 32, 8], 1, 'valid'],
  [[2, 6, 5, 32], [3, 3, 32, 12], 1, 'same'],
  [[3, 5, 5, 32], [2, 2, 32, 4], 1, 'same'],
  [[1, 7, 6, 64], [5, 5, 64, 4], 1, 'same'],
  [[2, 4, 4, 96], [1, 1, 96, 8], 1, 'valid'],
  // 1x1 stride 1 with channels in fours and eights (the SIMD pointwise pass): pixel counts
  // below, at and past its 64-pixel tile, 'same' and 'valid'.
  [[2, 5, 5, 8], [1, 1, 8, 16], 1, 'same'],
  [[1, 8, 8, 12], [1, 1, 12, 24], 1, 'valid'],
  [[3, 9, 7, 16], [1, 1, 16, 72], 1, 'same'],
  [[32, 6, 6, 40], [1, 1, 40, 240], 1, 'same'],
];

describe('project wasm kernels match the cpu backend', () => {
  it('are the kernels registered on wasm', () => {
    for (const config of PROJECT_WASM_KERNELS) {
      expect(tf.getKernel(config.kernelName, 'wasm')?.kernelFunc).toBe(config.kernelFunc);
    }
  });

  // Small work splits across helper threads as if it were large: on a threaded backend that is
  // the only way small stride-1 cases reach the SIMD tap passes (which XNNPACK otherwise runs),
  // and the filter gradients' calls get shared.
  describe.each([false, true])('with every call batch split across helper threads: %s', (splitAll) => {
    let previous = 0;
    let splitBefore = 0;
    beforeAll(() => {
      previous = splitAll ? setMinSplitWork(0) : 0;
      splitBefore = splitCallBatches();
    });
    afterAll(() => {
      if (splitAll) setMinSplitWork(previous);
    });

    it.each(CONV_CASES)('Conv2D x=%j filter=%j stride=%i pad=%s', async (xShape, fShape, s, pad) => {
      const error = await worstError('Conv2D', { x: { shape: xShape, seed: 7 }, filter: { shape: fShape, seed: 8 } }, {
        strides: [s, s], pad, dataFormat: 'NHWC', dilations: [1, 1],
      });
      expect(error).toBeLessThan(TOLERANCE);
    });

    it.each(CONV_CASES)('Conv2DBackpropFilter x=%j filter=%j stride=%i pad=%s', async (xShape, fShape, s, pad) => {
      const dyShape = [xShape[0]!, convOut(xShape[1]!, fShape[0]!, s, pad), convOut(xShape[2]!, fShape[1]!, s, pad), fShape[3]!];
      const error = await worstError('Conv2DBackpropFilter', { x: { shape: xShape, seed: 1 }, dy: { shape: dyShape, seed: 2 } }, {
        strides: [s, s], pad, dataFormat: 'NHWC', filterShape: fShape,
      });
      expect(error).toBeLessThan(TOLERANCE);
    });

    it.each(CONV_CASES)('Conv2DBackpropInput x=%j filter=%j stride=%i pad=%s', async (xShape, fShape, s, pad) => {
      const dyShape = [xShape[0]!, convOut(xShape[1]!, fShape[0]!, s, pad), convOut(xShape[2]!, fShape[1]!, s, pad), fShape[3]!];
      const error = await worstError('Conv2DBackpropInput', { dy: { shape: dyShape, seed: 3 }, filter: { shape: fShape, seed: 4 } }, {
        strides: [s, s], pad, dataFormat: 'NHWC', inputShape: xShape,
      });
      expect(error).toBeLessThan(TOLERANCE);
    });

    it.runIf(splitAll)('shared those calls with a helper thread', () => {
      expect(splitCallBatches()).toBeGreaterThan(splitBefore + 20);
    });
  });

  // Dense-layer products: dx = dy W^T (ours as row dots: m odd and even, k long and short,
  // blocks of b's rows with a remainder) and dW = x^T dy.
  it.each([
    [[1, 5, 8], [1, 12, 8], false, true], [[1, 32, 1024], [1, 20, 1024], false, true], [[1, 6, 32], [1, 136, 32], false, true],
    [[1, 3, 12], [1, 8, 12], false, true], [[1, 7, 16], [1, 7, 12], true, false], [[1, 4, 6], [1, 5, 6], false, true],
    [[1, 5, 12], [1, 5, 16], true, false], [[1, 70, 24], [1, 70, 8], true, false], [[1, 32, 576], [1, 32, 1024], true, false],
  ] as [Shape, Shape, boolean, boolean][])('BatchMatMul a=%j b=%j transposeA=%s transposeB=%s', async (aShape, bShape, transposeA, transposeB) => {
    const error = await worstError('BatchMatMul', { a: { shape: aShape, seed: 51 }, b: { shape: bShape, seed: 52 } }, { transposeA, transposeB });
    expect(error).toBeLessThan(TOLERANCE);
  });

  // [x shape, window, stride, pad]
  const POOL_CASES: [Shape, number, number, Pad][] = [
    [[2, 24, 24, 8], 2, 2, 'valid'],
    [[2, 11, 11, 4], 2, 2, 'valid'],
    [[2, 11, 11, 4], 2, 2, 'same'],
    [[1, 9, 10, 3], 3, 2, 'same'],
    [[1, 9, 9, 5], 3, 1, 'same'],
    [[3, 7, 7, 2], 3, 3, 'valid'],
  ];

  it.each(POOL_CASES)('MaxPoolGrad x=%j window=%i stride=%i pad=%s', async (xShape, k, s, pad) => {
    const attrs = { filterSize: [k, k], strides: [s, s], pad };
    const outShape = [xShape[0]!, convOut(xShape[1]!, k, s, pad), convOut(xShape[2]!, k, s, pad), xShape[3]!];
    const error = await worstError('MaxPoolGrad', {
      dy: { shape: outShape, seed: 5 },
      input: { shape: xShape, seed: 6 },
      output: (made) => tf.maxPool(made['input'] as tf.Tensor4D, k, s, pad),
    }, attrs);
    expect(error).toBeLessThan(TOLERANCE);
  });

  it.each([
    [[5, 7], [7, 3], false, false],
    [[7, 5], [7, 3], true, false],
    [[5, 7], [3, 7], false, true],
    [[7, 5], [3, 7], true, true],
    [[1, 64, 200], [1, 64, 30], true, false],
    [[2, 6, 4], [2, 5, 4], false, true],
  ] as [Shape, Shape, boolean, boolean][])('BatchMatMul a=%j b=%j transposeA=%s transposeB=%s', async (aShape, bShape, transposeA, transposeB) => {
    const error = await worstError('BatchMatMul', { a: { shape: aShape, seed: 7 }, b: { shape: bShape, seed: 8 } }, { transposeA, transposeB });
    expect(error).toBeLessThan(TOLERANCE);
  });

  // [x shape, filter [kh, kw, c, multiplier], stride, pad, dilation]
  const DEPTHWISE_CASES: [Shape, Shape, number, Pad, number][] = [
    [[2, 9, 9, 3], [3, 3, 3, 1], 1, 'same', 1],
    [[2, 10, 11, 4], [3, 3, 4, 2], 2, 'valid', 1],
    [[2, 8, 8, 3], [5, 5, 3, 2], 2, 'same', 1],
    // Multiplier 1 (the input gradient runs as a depthwise convolution): the MobileNet and EfficientNet shapes.
    [[2, 10, 10, 4], [3, 3, 4, 1], 2, 'same', 1],
    [[2, 11, 9, 5], [5, 5, 5, 1], 2, 'same', 1],
    [[2, 10, 11, 4], [3, 3, 4, 1], 2, 'valid', 1],
    [[1, 7, 7, 8], [5, 5, 8, 1], 1, 'same', 1],
    // Channels in fours plus a remainder, the input wider than tall, a valid window at stride 2.
    [[2, 7, 9, 6], [3, 3, 6, 1], 2, 'valid', 1],
    // Channels in fours (SIMD row passes), odd sizes at stride 2, enough images for helper threads to share.
    [[2, 9, 9, 8], [5, 5, 8, 1], 2, 'same', 1],
    [[8, 12, 12, 16], [3, 3, 16, 1], 2, 'same', 1],
    [[6, 6, 6, 24], [5, 5, 24, 1], 1, 'same', 1],
  ];

  it.each(DEPTHWISE_CASES)('DepthwiseConv2dNativeBackpropFilter x=%j filter=%j stride=%i pad=%s dilation=%i', async (xShape, fShape, s, pad, d) => {
    const dyShape = await depthwiseOutShape(xShape, fShape, s, pad, d);
    const error = await worstError('DepthwiseConv2dNativeBackpropFilter', { x: { shape: xShape, seed: 9 }, dy: { shape: dyShape, seed: 10 } }, {
      strides: [s, s], dilations: [d, d], pad, filterShape: fShape,
    });
    expect(error).toBeLessThan(TOLERANCE);
  });

  it.each(DEPTHWISE_CASES)('DepthwiseConv2dNativeBackpropInput x=%j filter=%j stride=%i pad=%s dilation=%i', async (xShape, fShape, s, pad, d) => {
    const dyShape = await depthwiseOutShape(xShape, fShape, s, pad, d);
    const error = await worstError('DepthwiseConv2dNativeBackpropInput', { dy: { shape: dyShape, seed: 11 }, filter: { shape: fShape, seed: 12 } }, {
      strides: [s, s], dilations: [d, d], pad, inputShape: xShape,
    });
    expect(error).toBeLessThan(TOLERANCE);
  });

  // tfjs's own gradients never pass dilation > 1 (and the cpu kernels ignore it), so the
  // reference is the dilation-1 gradient of the same filter with zeros between its taps.
  it('Depthwise backprops honour dilation 2 (checked against a zero-spread 5x5 filter)', async () => {
    const xShape = [1, 12, 12, 2];
    const attrs = { strides: [1, 1], pad: 'same' };
    const x = { shape: xShape, seed: 15 };
    const dy = { shape: [1, 12, 12, 2], seed: 16 };
    const small = await runOn('wasm', 'DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, dilations: [2, 2], filterShape: [3, 3, 2, 1] });
    const big = await runOn('cpu', 'DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, dilations: [1, 1], filterShape: [5, 5, 2, 1] });
    for (let r = 0; r < 3; r++) {
      for (let c = 0; c < 3; c++) {
        for (let ch = 0; ch < 2; ch++) {
          expect(small[(r * 3 + c) * 2 + ch]).toBeCloseTo(big[(2 * r * 5 + 2 * c) * 2 + ch]!, 4);
        }
      }
    }
    const filter = seededUniform(3 * 3 * 2, 17, -1, 1);
    const spread = new Float32Array(5 * 5 * 2);
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) for (let ch = 0; ch < 2; ch++) spread[(2 * r * 5 + 2 * c) * 2 + ch] = filter[(r * 3 + c) * 2 + ch]!;
    const dx = await runOn('wasm', 'DepthwiseConv2dNativeBackpropInput', { dy, filter: () => tf.tensor4d(filter, [3, 3, 2, 1]) }, { ...attrs, dilations: [2, 2], inputShape: xShape });
    const reference = await runOn('cpu', 'DepthwiseConv2dNativeBackpropInput', { dy, filter: () => tf.tensor4d(spread, [5, 5, 2, 1]) }, { ...attrs, dilations: [1, 1], inputShape: xShape });
    for (let i = 0; i < reference.length; i++) expect(dx[i]).toBeCloseTo(reference[i]!, 4);
  });

  // Consecutive axes before the last (ours: bias gradients, batch-norm moments, global average
  // pools) and every other reduction (handed to the backend's kernel).
  const REDUCTIONS: [Shape, number[], boolean][] = [
    [[4, 6, 6, 5], [0, 1, 2], false], [[4, 6, 6, 5], [2, 0, 1], true], [[64, 13, 13, 32], [0, 1, 2], false],
    [[4, 6, 6, 5], [1, 2], false], [[4, 6, 6, 5], [1, 2], true], [[3, 5, 7, 9], [1], false], [[2, 3, 5, 7], [2], true],
    [[7, 3], [0], false], [[7, 3], [-2], true], [[2, 3, 4], [1, 2], false], [[2, 3, 4], [0, 2], true], [[5, 4], [0, 1], false],
    // Channels in fours (the SIMD pass), with rows left over after the four-row steps.
    [[3, 5, 7, 8], [0, 1, 2], false], [[2, 5, 7, 12], [1, 2], true],
  ];
  it.each(REDUCTIONS.flatMap(([shape, axis, keepDims]) => (['Sum', 'Mean'] as const).map((k) => [k, shape, axis, keepDims] as const)))('%s x=%j axis=%j keepDims=%s', async (kernel, shape, axis, keepDims) => {
    expect(await worstError(kernel, { x: { shape, seed: 15 } }, { axis, keepDims })).toBeLessThan(TOLERANCE);
    const shapeOn = async (backend: 'cpu' | 'wasm'): Promise<Shape> => {
      await tf.setBackend(backend);
      return tf.tidy(() => (kernel === 'Sum' ? tf.sum : tf.mean)(tf.zeros(shape), axis, keepDims).shape);
    };
    expect(await shapeOn('wasm')).toEqual(await shapeOn('cpu'));
  });

  // Mean's gradient: dy / n broadcast over the reduced axes (one pass on wasm for consecutive axes
  // before the last), exactly tfjs-core's (dy * ones) / n.
  it.each(REDUCTIONS)('Mean gradient x=%j axis=%j keepDims=%s', async (shape, axis, keepDims) => {
    const n = tf.util.parseAxisParam(axis, shape).reduce((p, a) => p * shape[a]!, 1);
    const outShape = tf.tidy(() => tf.mean(tf.zeros(shape), axis, keepDims).shape);
    const dyValues = seededUniform(size(outShape), 31, -1, 1);
    const expanded = shape.map((d, i) => (tf.util.parseAxisParam(axis, shape).includes(i) ? 1 : d));
    for (const backend of ['wasm', 'cpu'] as const) {
      await tf.setBackend(backend);
      const x = tf.tensor(seededUniform(size(shape), 32, -1, 1), shape);
      const dy = tf.tensor(dyValues, outShape);
      const before = tf.memory().numTensors;
      const dx = tf.grad((t: tf.Tensor) => tf.mean(t, axis, keepDims))(x, dy);
      const reference = tf.tidy(() => tf.div(tf.mul(tf.reshape(dy, expanded), tf.ones(shape)), n));
      expect(dx.shape).toEqual(shape);
      expect(Array.from(await dx.data())).toEqual(Array.from(await reference.data()));
      tf.dispose([dx, reference]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, dy]);
    }
  });

  // Per-channel statistics over the last axis (ours), with and without scale and offset, and a
  // statistic of x's own shape (handed to the backend's kernel).
  it.each([
    [[4, 6, 6, 5], [5], true, true], [[3, 7, 2, 9], [9], false, true], [[2, 3, 3, 4], [4], true, false],
    [[2, 3, 3, 4], [4], false, false], [[2, 3, 3, 4], [2, 3, 3, 4], true, true],
  ] as [Shape, Shape, boolean, boolean][])('FusedBatchNorm x=%j statistics=%j scale=%s offset=%s', async (xShape, statShape, withScale, withOffset) => {
    const inputs: Parameters<typeof runOn>[2] = {
      x: { shape: xShape, seed: 21 },
      mean: { shape: statShape, seed: 22 },
      variance: () => tf.add(tf.abs(tf.tensor(seededUniform(size(statShape), 23, -1, 1), statShape)), 0.1),
    };
    if (withScale) inputs['scale'] = { shape: statShape, seed: 24 };
    if (withOffset) inputs['offset'] = { shape: statShape, seed: 25 };
    expect(await worstError('FusedBatchNorm', inputs, { varianceEpsilon: 1e-3 })).toBeLessThan(TOLERANCE);
  });

  it.each([
    [[5, 3, 8], [8]], [[8], [5, 3, 8]], [[7, 12], [12]], [[4, 6], [6]], [[2, 3], [2, 3]], [[3, 1], [1, 4]], [[2, 5, 4], [4]],
  ] as [Shape, Shape][])('Add a=%j b=%j: the same bits as the cpu backend (a bias over the last axis in one SIMD pass)', async (aShape, bShape) => {
    const inputs = { a: { shape: aShape, seed: 41 }, b: { shape: bShape, seed: 42 } };
    const [cpu, wasm] = [await runOn('cpu', 'Add', inputs, {}), await runOn('wasm', 'Add', inputs, {})];
    expect(Array.from(wasm)).toEqual(Array.from(cpu));
  });

  it("ReLU's gradient is tfjs's dy * step(x) to the bit, zeros, NaN and infinities included", async () => {
    const xs = [0, -0, 1.5, -2, Number.NaN, 3e-39, -3e-39, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0.25, -0.75, 7];
    const dys = [-1, 2, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY, 0.5, -4, Number.NaN, -1, 3, -0, 1e30, -2];
    // 3 x 12 values: whole SIMD vectors and a JS tail of 0-3 values, for 36, 35, 34 and 33 elements.
    for (const n of [36, 35, 34, 33]) {
      const x = Float32Array.from({ length: n }, (_, i) => xs[i % xs.length]! * (1 + Math.floor(i / xs.length)));
      const dy = Float32Array.from({ length: n }, (_, i) => dys[(i * 5) % dys.length]!);
      const results: Float32Array[] = [];
      for (const backend of ['wasm', 'cpu'] as const) {
        await tf.setBackend(backend);
        const [xt, dyt] = [tf.tensor1d(x), tf.tensor1d(dy)];
        const before = tf.memory().numTensors;
        const dx = tf.grad((t: tf.Tensor) => tf.relu(t))(xt, dyt);
        results.push((await dx.data()) as Float32Array);
        dx.dispose();
        expect(tf.memory().numTensors).toBe(before);
        tf.dispose([xt, dyt]);
      }
      await tf.setBackend('cpu');
      const reference = tf.tidy(() => tf.mul(tf.tensor1d(dy), tf.cast(tf.step(tf.tensor1d(x)), 'float32')).dataSync() as Float32Array);
      for (const r of results) expect(new Uint32Array(r.buffer)).toEqual(new Uint32Array(reference.slice().buffer));
    }
  });

  it('Identity shares the heap buffer (no copy), and the data lives until its last tensor goes', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend() as unknown as { numDataIds(): number; getMemoryOffset(dataId: object): number };
    const idsBefore = backend.numDataIds();
    const x = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const y = x.clone();
    expect(backend.getMemoryOffset(y.dataId)).toBe(backend.getMemoryOffset(x.dataId));
    x.dispose();
    expect(Array.from(await y.data())).toEqual([1, 2, 3, 4, 5, 6]);
    y.dispose();
    expect(backend.numDataIds()).toBe(idsBefore);
    // Through a gradient, whose forward kernels save inputs by Identity: the same values as on cpu.
    const grad = async (b: 'cpu' | 'wasm'): Promise<Float32Array> => {
      await tf.setBackend(b);
      const a = tf.tensor2d(seededUniform(12, 21, -1, 1), [3, 4]);
      const g = tf.grad((t: tf.Tensor) => tf.mul(tf.sigmoid(t), t).sum())(a);
      const values = (await g.data()) as Float32Array;
      tf.dispose([a, g]);
      return values;
    };
    const [onCpu, onWasm] = [await grad('cpu'), await grad('wasm')];
    for (let i = 0; i < onCpu.length; i++) expect(onWasm[i]).toBeCloseTo(onCpu[i] as number, 6);
  });

  it('leave no tensors behind on the wasm heap', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor4d(seededUniform(2 * 9 * 9 * 3, 13, -1, 1), [2, 9, 9, 3]);
    const w = tf.tensor4d(seededUniform(3 * 3 * 3 * 4, 14, -1, 1), [3, 3, 3, 4]);
    const before = tf.memory().numTensors;
    const backend = tf.backend() as unknown as { numDataIds(): number };
    const idsBefore = backend.numDataIds();
    const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.maxPool(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'), 2, 2, 'valid').sum())([x, w]);
    tf.dispose([dx!, dw!]);
    expect(tf.memory().numTensors).toBe(before);
    expect(backend.numDataIds()).toBe(idsBefore);
    tf.dispose([x, w]);
  });
});
