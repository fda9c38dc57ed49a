/**
 * The architecture table: parameter counts against the published figures, spec validation,
 * determinism for (spec, seed), logits outputs, model-bytes round trips through the custom
 * layers, and gradients on wasm matching the cpu backend.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { PUBLISHED_PARAMS, formatParameterTable, parameterTable } from '../../../src/ml/architectures/param-table.js';
import { initBackend } from '../../../src/ml/backend.js';
import { buildModel, validateModelSpec } from '../../../src/ml/build-model.js';
import { ARCHITECTURE_NAMES, type ArchitectureName, type ModelSpec } from '../../../src/ml/engine.js';
import { modelFromBytes, modelToBytes } from '../../../src/ml/model-bytes.js';
import { seededUniform } from '../../../src/ml/seeded-random.js';

beforeAll(async () => {
  await initBackend('cpu');
  await initBackend('wasm');
});

function tinySpec(architecture: ArchitectureName, channels = 3): ModelSpec {
  const spec: ModelSpec = { architecture, inputShape: [32, 32, channels], numClasses: 4, dropout: 0 };
  if (architecture === 'vit-tiny') return { ...spec, patchSize: 8, widthMultiplier: 0.25 };
  if (architecture === 'small-cnn') return { ...spec, widthMultiplier: 0.5 };
  return { ...spec, widthMultiplier: 0.25 };
}

function weightValues(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

describe('parameter counts at 224x224x3, 1000 classes', () => {
  it('match the published (torchvision / timm) figures', async () => {
    await tf.setBackend('cpu');
    const rows = parameterTable();
    console.log(formatParameterTable(rows));
    for (const row of rows) {
      if (row.architecture === 'small-cnn') continue;
      const published = PUBLISHED_PARAMS[row.architecture];
      expect(Math.abs(row.trainable - published) / published, row.architecture).toBeLessThan(0.005);
      // Layer for layer as torchvision / timm define them, so the counts are exact.
      expect(row.trainable, row.architecture).toBe(published);
    }
  });
});

describe('validateModelSpec', () => {
  it('accepts every architecture at its tiny test size', () => {
    for (const a of ARCHITECTURE_NAMES) expect(() => validateModelSpec(tinySpec(a))).not.toThrow();
  });

  it('names the field and value when the input is too small for the downsampling', () => {
    for (const a of ['mobilenet-v3-small', 'mobilenet-v3-large', 'resnet-18', 'resnet-50', 'efficientnet-b0'] as const) {
      expect(() => validateModelSpec({ architecture: a, inputShape: [16, 40, 3], numClasses: 3 })).toThrow(/model\.inputShape \[16, 40, 3\].*>= 32/);
    }
    expect(() => validateModelSpec({ architecture: 'small-cnn', inputShape: [8, 8, 1], numClasses: 3 })).toThrow(/model\.inputShape \[8, 8, 1\].*>= 10/);
  });

  it('requires the ViT patch size to divide the input sides', () => {
    expect(() => validateModelSpec({ architecture: 'vit-tiny', inputShape: [32, 32, 3], numClasses: 3, patchSize: 5 })).toThrow(/model\.patchSize 5 must divide/);
    expect(() => validateModelSpec({ architecture: 'vit-tiny', inputShape: [224, 200, 3], numClasses: 3 })).toThrow(/model\.patchSize 16 must divide/);
    expect(() => validateModelSpec({ architecture: 'vit-tiny', inputShape: [32, 32, 3], numClasses: 3, patchSize: 2.5 })).toThrow(/model\.patchSize must be an integer >= 1, got 2\.5/);
    expect(() => validateModelSpec({ architecture: 'vit-tiny', inputShape: [36, 36, 3], numClasses: 3 })).not.toThrow();
  });

  it('rejects unknown architectures by name', () => {
    expect(() => validateModelSpec({ architecture: 'vgg-16' as ArchitectureName, inputShape: [32, 32, 3], numClasses: 3 })).toThrow(/model\.architecture .* got "vgg-16"/);
  });
});

describe.each(ARCHITECTURE_NAMES)('%s', (architecture) => {
  it('is deterministic for (spec, seed), differs across seeds, and outputs logits', async () => {
    await tf.setBackend('wasm');
    const spec = tinySpec(architecture);
    const [a, b, c] = [buildModel(spec, 7), buildModel(spec, 7), buildModel(spec, 8)];
    const [wa, wb, wc] = [weightValues(a), weightValues(b), weightValues(c)];
    expect(wa).toEqual(wb);
    expect(wa).not.toEqual(wc);
    const logits = a.layers[a.layers.length - 1]!;
    expect(logits.name).toBe('logits');
    expect(logits.getConfig()['activation']).toBe('linear');
    expect(a.outputs[0]!.shape).toEqual([null, 4]);
    [a, b, c].forEach((m) => m.dispose());
  });

  it('round-trips through model bytes with identical predictions', async () => {
    await tf.setBackend('wasm');
    const spec = tinySpec(architecture);
    const model = buildModel(spec, 3);
    const x = tf.tensor4d(seededUniform(3 * 32 * 32 * 3, 4, -1, 1), [3, 32, 32, 3]);
    const predict = (m: tf.LayersModel) => tf.tidy(() => (m.predict(x) as tf.Tensor).dataSync() as Float32Array);
    const bytes = await modelToBytes(model);
    const restored = await modelFromBytes(bytes);
    expect(predict(restored)).toEqual(predict(model));
    // Buffer.equals, not toEqual: a deep equality walks a large model (ResNet-50: ~94 MB) element by element.
    expect(Buffer.from(await modelToBytes(restored)).equals(Buffer.from(bytes))).toBe(true);
    tf.dispose(x);
    model.dispose();
    restored.dispose();
  });

  // Training-mode gradients of deep batch-norm networks on tiny batches are ill-conditioned:
  // on cpu alone, a 1e-6 relative change of the input moves them by ~1e-4 of the largest
  // gradient (MobileNetV3-Large, EfficientNet-B0 at 32x32, batch 4) or by ~5% (ResNet-50).
  // So the SE networks compare at 64x64 with 8 images (2x2 before pooling), and ResNet-50
  // compares in inference mode, where every kernel but batch-norm statistics is still on the path.
  it('gets the same gradients on wasm as on cpu (within 1e-4 of the largest gradient)', async () => {
    const training = architecture !== 'resnet-50';
    const roomy = architecture.startsWith('mobilenet') || architecture === 'efficientnet-b0';
    const [side, count] = roomy ? [64, 8] : [32, 4];
    const gradients = async (backend: 'cpu' | 'wasm'): Promise<Float32Array[]> => {
      await tf.setBackend(backend);
      const model = buildModel({ ...tinySpec(architecture), inputShape: [side, side, 3] }, 1);
      const x = tf.tensor4d(seededUniform(count * side * side * 3, 3, -1, 1), [count, side, side, 3]);
      const y = tf.oneHot(tf.tensor1d(Array.from({ length: count }, (_, i) => i % 4), 'int32'), 4);
      const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const { value, grads } = tf.variableGrads(
        () => tf.losses.softmaxCrossEntropy(y, model.apply(x, { training }) as tf.Tensor) as tf.Scalar, variables,
      );
      const values = variables.map((v) => grads[v.name]!.dataSync() as Float32Array);
      tf.dispose([x, y, value, ...Object.values(grads)]);
      model.dispose();
      return values;
    };
    const reference = await gradients('cpu');
    const ours = await gradients('wasm');
    let largest = 0;
    let worst = 0;
    reference.forEach((g, i) => g.forEach((v, j) => {
      largest = Math.max(largest, Math.abs(v));
      worst = Math.max(worst, Math.abs(v - ours[i]![j]!));
    }));
    expect(largest).toBeGreaterThan(0);
    expect(worst / largest).toBeLessThan(1e-4);
  });
});
