import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend.js';
import { buildModel } from '../../../src/ml/build-model.js';
import { setDeferWork } from '../../../src/ml/kernels/deferred-work.js';
import {
  CallBatch, type CallableKernel, deferralAvailable, deferredCallBatches, deferredRecordsTakenOver, setMaxDeferredBacklog, waitForDeferred,
} from '../../../src/ml/kernels/simd/simd-calls.js';
import { backendMemory, simdKernels } from '../../../src/ml/kernels/simd/simd-kernels.js';
import { seededUniform } from '../../../src/ml/seeded-random.js';

const linux = process.platform === 'linux';

beforeAll(async () => {
  await initBackend('cpu');
  await initBackend('wasm', { wasmThreads: 2 });
});

afterEach(() => {
  setDeferWork(true);
});

function memory(): NonNullable<ReturnType<typeof backendMemory>> {
  return backendMemory(tf.backend() as unknown as BackendWasm)!;
}

/** Every trainable weight's gradient of a MobileNetV3-Small's loss on one seeded batch. */
function gradients(model: tf.LayersModel, x: tf.Tensor4D, labels: tf.Tensor2D): Float32Array[] {
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  return tf.tidy(() => {
    const { grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(labels, model.apply(x, { training: true }) as tf.Tensor) as tf.Scalar, variables);
    return variables.map((v) => grads[v.name]!.dataSync() as Float32Array);
  });
}

describe('weight gradients deferred to a worker under SCHED_IDLE', () => {
  it.runIf(linux)('is available on Linux with two wasm threads (the worker runs under SCHED_IDLE)', async () => {
    await tf.setBackend('wasm');
    expect(deferralAvailable(memory())).toBe(true);
  });

  it.runIf(linux)('gives a MobileNetV3-Small the same gradients, bit for bit, as running them in place, and defers its filter gradients', async () => {
    await tf.setBackend('wasm');
    const model = buildModel({ architecture: 'mobilenet-v3-small', inputShape: [32, 32, 3], numClasses: 4 }, 5);
    const x = tf.tensor4d(seededUniform(8 * 32 * 32 * 3, 3, 0, 1), [8, 32, 32, 3]);
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 0, 1, 2, 3], 'int32'), 4) as tf.Tensor2D;
    setDeferWork(false);
    const before = deferredCallBatches();
    const inPlace = gradients(model, x, labels);
    expect(deferredCallBatches()).toBe(before);
    setDeferWork(true);
    const tensors = tf.memory().numTensors;
    const deferred = gradients(model, x, labels);
    // A 1x1 and a depthwise filter gradient for each of its blocks, at least.
    expect(deferredCallBatches() - before).toBeGreaterThan(20);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(deferred.length).toBe(inPlace.length);
    deferred.forEach((g, i) => {
      const differing = g.findIndex((v, j) => !Object.is(v, inPlace[i]![j]));
      expect(differing, `weight ${model.trainableWeights[i]!.name}, value ${differing}`).toBe(-1);
    });
    tf.dispose([x, labels]);
    model.dispose();
  });

  it.runIf(linux)('keeps a gradient\'s inputs alive until the worker is done: freeing them and reusing the memory at once changes nothing', async () => {
    const xShape = [32, 24, 24, 16];
    const dyShape = [32, 24, 24, 72];
    const attrs = { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [1, 1, 16, 72] };
    const make = (): tf.NamedTensorMap => ({
      x: tf.tensor4d(seededUniform(xShape.reduce((a, b) => a * b), 1, -1, 1), xShape as [number, number, number, number]),
      dy: tf.tensor4d(seededUniform(dyShape.reduce((a, b) => a * b), 2, -1, 1), dyShape as [number, number, number, number]),
    });
    await tf.setBackend('wasm');
    setDeferWork(false);
    const inPlaceInputs = make();
    const reference = tf.engine().runKernel('Conv2DBackpropFilter', inPlaceInputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
    const want = reference.dataSync();
    tf.dispose([reference, ...Object.values(inPlaceInputs)]);

    setDeferWork(true);
    const before = deferredCallBatches();
    const inputs = make();
    const dw = tf.engine().runKernel('Conv2DBackpropFilter', inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
    expect(deferredCallBatches()).toBe(before + 1);
    // Freed while the worker may still read them; new tensors of the same sizes, written at once.
    tf.dispose(Object.values(inputs));
    const junk = [tf.fill(xShape, 1e30), tf.fill(dyShape, -1e30)];
    const got = dw.dataSync();
    expect(Array.from(got)).toEqual(Array.from(want));
    tf.dispose([dw, ...junk]);
  });

  it.runIf(linux)('runs batches in place while the worker is behind by more than the backlog allows', async () => {
    await tf.setBackend('wasm');
    const previous = setMaxDeferredBacklog(0);
    try {
      const before = deferredCallBatches();
      const x = tf.tensor4d(seededUniform(4 * 8 * 8 * 16, 4, -1, 1), [4, 8, 8, 16]);
      const dy = tf.tensor4d(seededUniform(4 * 8 * 8 * 32, 5, -1, 1), [4, 8, 8, 32]);
      const dw = tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: [1, 1], pad: 'same', dataFormat: 'NHWC', filterShape: [1, 1, 16, 32] }) as tf.Tensor;
      dw.dataSync();
      expect(deferredCallBatches()).toBe(before);
      tf.dispose([x, dy, dw]);
    } finally {
      setMaxDeferredBacklog(previous);
    }
  });

  it.runIf(linux)('a thread that waits runs the records the worker has not reached itself, with the same results', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend() as unknown as BackendWasm;
    const simd = simdKernels(backend)!;
    // 400 independent 1x1 filter gradients of 64 pixels, 8 -> 8 channels, each into its own block.
    const jobs = 400;
    const x = tf.tensor2d(seededUniform(jobs * 64 * 8, 6, -1, 1), [jobs * 64, 8]);
    const dy = tf.tensor2d(seededUniform(jobs * 64 * 8, 7, -1, 1), [jobs * 64, 8]);
    const run = (defer: boolean): number[] => {
      const out = backend.makeOutput([jobs, 64], 'float32');
      const acc = backend.typedArrayFromHeap(out) as Float32Array;
      acc.fill(0);
      const xAt = (backend.typedArrayFromHeap(x) as Float32Array).byteOffset;
      const dyAt = (backend.typedArrayFromHeap(dy) as Float32Array).byteOffset;
      const batch = new CallBatch(simd, memory(), defer ? 1 : 0);
      expect(batch.deferred).toBe(defer);
      for (let j = 0; j < jobs; j++) batch.add('pointwiseFilterGrad', j, 64 * 64, xAt + 4 * j * 512, dyAt + 4 * j * 512, acc.byteOffset + 4 * j * 64, 64, 8, 8, 8, 8);
      if (defer) waitForDeferred(memory(), batch.runDeferred());
      else batch.run();
      const values = Array.from(backend.typedArrayFromHeap(out) as Float32Array);
      backend.disposeData(out.dataId);
      return values;
    };
    const inPlace = run(false);
    const before = deferredRecordsTakenOver();
    expect(run(true)).toEqual(inPlace);
    expect(deferredRecordsTakenOver()).toBeGreaterThan(before);
    tf.dispose([x, dy]);
  });

  it.runIf(linux)('reports a deferred call that failed when its ticket is waited for', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend() as unknown as BackendWasm;
    const batch = new CallBatch(simdKernels(backend)!, memory(), 1);
    expect(batch.deferred).toBe(true);
    batch.add('no-such-kernel' as CallableKernel, 0, 1, 0, 0, 0, 0, 0, 0);
    const ticket = batch.runDeferred();
    expect(() => waitForDeferred(memory(), ticket)).toThrow(/a deferred SIMD call failed/);
    // The failure is reported once; later work goes on.
    expect(() => waitForDeferred(memory(), ticket)).not.toThrow();
  });
});
