import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { gradCamExamples, type GradCamExamplesInput } from '../../../src/activities/grad-cam-examples.js';
import { evaluationConfigSchema } from '../../../src/core/config.js';
import { initBackend } from '../../../src/ml/backend.js';
import { buildModel } from '../../../src/ml/build-model.js';
import type { ModelSpec } from '../../../src/ml/engine.js';
import { modelToBytes } from '../../../src/ml/model-bytes.js';
import { createTfjsEngine } from '../../../src/ml/tfjs-engine.js';
import { MemoryArtifactStore } from '../data/memory-store.js';
import { quadrantImages } from '../ml/synthetic-images.js';

const CLASSES = ['a', 'b', 'c', 'd'];

async function bytesOf(spec: ModelSpec): Promise<Uint8Array> {
  const model = buildModel(spec, 5);
  try {
    return await modelToBytes(model);
  } finally {
    model.dispose();
  }
}

describe('gradCamExamples', () => {
  const engine = createTfjsEngine({ backend: 'wasm' });
  const test = quadrantImages(24, 9);
  beforeAll(async () => {
    await initBackend('wasm');
  });

  async function run(model: Uint8Array, gradCam: Record<string, unknown> = {}, overrides: Partial<GradCamExamplesInput> = {}) {
    const store = new MemoryArtifactStore();
    const probabilities = await engine.predict(model, test);
    const config = evaluationConfigSchema.parse({ gradCam }).gradCam;
    const section = await gradCamExamples({ engine, store, model, test, probabilities, classes: CLASSES, config, keyOf: (name) => `runs/r/grad-cam/${name}`, ...overrides });
    return { section, store, probabilities };
  }

  it('writes one 112 px PNG per picked image, within examplesPerClass per class and kind', async () => {
    const model = await bytesOf({ architecture: 'small-cnn', inputShape: [16, 16, 1], numClasses: 4, widthMultiplier: 0.25 });
    const { section, store, probabilities } = await run(model, { examplesPerClass: 1 });
    expect(section).toMatchObject({ enabled: true, layer: 'conv2', height: 5, width: 5, examplesPerClass: 1 });
    expect(section.skipped).toBeUndefined();
    expect(section.examples.length).toBeGreaterThan(0);
    for (let c = 0; c < 4; c++) {
      expect(section.examples.filter((e) => e.trueClass === c && e.correct).length).toBeLessThanOrEqual(1);
      expect(section.examples.filter((e) => e.trueClass === c && !e.correct).length).toBeLessThanOrEqual(1);
    }
    for (const e of section.examples) {
      const row = Array.from(probabilities.subarray(e.index * 4, e.index * 4 + 4));
      expect(e.predictedClass).toBe(row.indexOf(Math.max(...row)));
      expect(e.explainedClass).toBe(e.predictedClass);
      expect(e.trueClassName).toBe(CLASSES[e.trueClass]);
      const meta = await sharp(await store.get(store.keyOf(e.uri))).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', 112, 112]);
    }
    const capped = await run(model, { examplesPerClass: 2, maxImages: 3 });
    expect(capped.section.examples).toHaveLength(3);
  });

  it('skips with the reason when turned off, when the engine has no Grad-CAM, and for a vision transformer', async () => {
    const cnn = await bytesOf({ architecture: 'small-cnn', inputShape: [16, 16, 1], numClasses: 4, widthMultiplier: 0.25 });
    const off = await run(cnn, { enabled: false });
    expect(off.section).toMatchObject({ enabled: false, examples: [], skipped: 'turned off (evaluation.gradCam.enabled: false)' });
    expect(off.store.puts).toBe(0);
    const { gradCam: _omitted, ...withoutGradCam } = engine;
    const noEngine = await run(cnn, {}, { engine: { ...withoutGradCam, name: 'torch' } });
    expect(noEngine.section.skipped).toBe('the torch engine does not compute Grad-CAM');
    const vit = await bytesOf({ architecture: 'vit-tiny', inputShape: [16, 16, 1], numClasses: 4, patchSize: 4 });
    const skipped = await run(vit);
    expect(skipped.section.examples).toEqual([]);
    expect(skipped.section.skipped).toMatch(/^Grad-CAM failed: model vit_tiny has no 4-D feature map that reaches its classifier/);
    const badLayer = await run(cnn, { layer: 'fc1' });
    expect(badLayer.section.skipped).toMatch(/layer "fc1" .* expected a 4-D feature map/);
  });
});
