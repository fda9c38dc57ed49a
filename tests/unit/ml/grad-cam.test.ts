import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend.js';
import { buildModel } from '../../../src/ml/build-model.js';
import type { ImageBatchSource } from '../../../src/ml/engine.js';
import { GradCamUnavailableError, defaultGradCamLayer, gradCam } from '../../../src/ml/grad-cam.js';
import { modelToBytes } from '../../../src/ml/model-bytes.js';
import { createTfjsEngine } from '../../../src/ml/tfjs-engine.js';
import { quadrantImages } from './synthetic-images.js';

const SIDE = 8;

/**
 * Class 0's logit is the mean of input channel 0 (red), class 1's the mean of channel 1 (green);
 * channel 2 counts for nothing. `features` copies the input channels, so Grad-CAM's channel
 * weights for class c are (1/64 for channel c, 0 otherwise) and the heatmap is channel c scaled to
 * peak 1: the answer is known exactly.
 */
function channelReader(): tf.LayersModel {
  const input = tf.input({ shape: [SIDE, SIDE, 3], name: 'image' });
  const features = tf.layers.conv2d({ filters: 3, kernelSize: 1, useBias: false, name: 'features', weights: [tf.eye(3).reshape([1, 1, 3, 3])] }).apply(input) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({ name: 'pool' }).apply(features) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: 2, name: 'logits', weights: [tf.tensor2d([[1, 0], [0, 1], [0, 0]]), tf.zeros([2])] }).apply(pooled) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: 'channel_reader' });
}

/** One image: red square in the top-left 3x3 block, green in the bottom-right 2x2 block, blue noise everywhere. */
function twoRegions(): ImageBatchSource {
  const images = new Uint8Array(SIDE * SIDE * 3);
  for (let r = 0; r < SIDE; r++) {
    for (let c = 0; c < SIDE; c++) {
      const p = (r * SIDE + c) * 3;
      if (r < 3 && c < 3) images[p] = 255;
      if (r >= 6 && c >= 6) images[p + 1] = 200;
      images[p + 2] = (r * 31 + c * 17) % 256;
    }
  }
  return { images, labels: Int32Array.from([0]), count: 1, shape: [SIDE, SIDE, 3], scaling: '0-1' };
}

describe.each(['wasm', 'cpu'] as const)('Grad-CAM on %s', (backend) => {
  beforeAll(async () => {
    await initBackend(backend);
  });

  it('highlights exactly the region the explained class reads, and nothing else', () => {
    const model = channelReader();
    try {
      expect(defaultGradCamLayer(model)).toBe('features');
      const result = gradCam(model, twoRegions(), [0, 0], { classes: [0, 1] });
      expect(result).toMatchObject({ layer: 'features', height: SIDE, width: SIDE, classes: [0, 1] });
      const expected = (cls: number, r: number, c: number) => (cls === 0 ? (r < 3 && c < 3 ? 1 : 0) : r >= 6 && c >= 6 ? 1 : 0);
      for (const cls of [0, 1]) {
        for (let r = 0; r < SIDE; r++) {
          for (let c = 0; c < SIDE; c++) expect(result.heatmaps[cls * SIDE * SIDE + r * SIDE + c]).toBeCloseTo(expected(cls, r, c), 6);
        }
      }
      // Logits are the channel means: red 9/64, green 4*200/255/64; the probabilities follow.
      const red = 9 / 64;
      const green = (4 * (200 / 255)) / 64;
      expect(result.probabilities[0]).toBeCloseTo(1 / (1 + Math.exp(green - red)), 5);
      expect(result.probabilities[1]).toBeCloseTo(1 / (1 + Math.exp(red - green)), 5);
    } finally {
      model.dispose();
    }
  });

  it('explains the predicted class by default', () => {
    const model = channelReader();
    try {
      const result = gradCam(model, twoRegions(), [0]);
      expect(result.classes).toEqual([0]);
      expect(result.heatmaps[0]).toBeCloseTo(1, 6);
    } finally {
      model.dispose();
    }
  });

  it('small-cnn: one heatmap per index at conv2 resolution, values in [0, 1] peaking at 1, no tensors left behind', async () => {
    const data = quadrantImages(12, 5);
    const bytes = await smallCnnBytes(0.5);
    const engine = createTfjsEngine({ backend });
    await engine.gradCam!({ model: bytes, data, indices: [0] }); // first call creates backend caches
    const before = tf.memory().numTensors;
    const result = await engine.gradCam!({ model: bytes, data, indices: [0, 3, 7, 11, 2] });
    expect(tf.memory().numTensors).toBe(before);
    // 16 -> conv1 14 -> pool1 7 -> conv2 5: the default steps back over pool2 to conv2's 5x5 map.
    expect(result).toMatchObject({ layer: 'conv2', height: 5, width: 5 });
    expect(result.heatmaps.length).toBe(5 * 25);
    expect(result.classes).toHaveLength(5);
    const probabilities = await engine.predict(bytes, data);
    [0, 3, 7, 11, 2].forEach((index, i) => {
      const row = Array.from(probabilities.subarray(index * 4, index * 4 + 4));
      expect(result.classes[i]).toBe(row.indexOf(Math.max(...row)));
      expect(result.probabilities[i]).toBeCloseTo(Math.max(...row), 5);
      const map = Array.from(result.heatmaps.subarray(i * 25, (i + 1) * 25));
      expect(Math.min(...map)).toBeGreaterThanOrEqual(0);
      const peak = Math.max(...map);
      expect(peak === 0 || Math.abs(peak - 1) < 1e-6).toBe(true);
    });
    const named = await engine.gradCam!({ model: bytes, data, indices: [1], layer: 'conv1', classes: [2] });
    expect(named).toMatchObject({ layer: 'conv1', height: 14, width: 14, classes: [2] });
  });

  it('refuses a missing or non-spatial layer and bad indices with the value and what was expected', async () => {
    const bytes = await smallCnnBytes(0.25);
    const engine = createTfjsEngine({ backend });
    const data = quadrantImages(4, 1);
    await expect(engine.gradCam!({ model: bytes, data, indices: [0], layer: 'conv9' })).rejects.toThrow(/no layer named "conv9"; layers with a 4-D output: conv1, pool1, conv2, pool2/);
    await expect(engine.gradCam!({ model: bytes, data, indices: [0], layer: 'fc1' })).rejects.toThrow(/layer "fc1" .* expected a 4-D feature map/);
    await expect(engine.gradCam!({ model: bytes, data, indices: [4] })).rejects.toThrow('indices[0] is 4, expected an image index in [0, 4)');
    await expect(engine.gradCam!({ model: bytes, data, indices: [0], classes: [9] })).rejects.toThrow('classes[0] is 9, expected a class index in [0, 4)');
  });
});

describe('default Grad-CAM layer per architecture', () => {
  beforeAll(async () => {
    await initBackend('cpu');
  });
  it.each([
    ['mobilenet-v3-small', 'head_act'],
    ['resnet-18', /_out$/],
    ['efficientnet-b0', 'head_act'],
  ] as const)('%s: the feature map before global pooling', (architecture, expected) => {
    const model = buildModel({ architecture, inputShape: [32, 32, 3], numClasses: 3, widthMultiplier: 0.25 }, 1);
    try {
      const layer = defaultGradCamLayer(model);
      if (typeof expected === 'string') expect(layer).toBe(expected);
      else expect(layer).toMatch(expected);
    } finally {
      model.dispose();
    }
  });

  it('vit-tiny has none, and says why', () => {
    const model = buildModel({ architecture: 'vit-tiny', inputShape: [16, 16, 1], numClasses: 3, patchSize: 4 }, 1);
    try {
      expect(() => defaultGradCamLayer(model)).toThrow(GradCamUnavailableError);
      expect(() => defaultGradCamLayer(model)).toThrow(/no 4-D feature map that reaches its classifier .*vision transformer.*patch_embed/);
    } finally {
      model.dispose();
    }
  });

  it('a layer bypassed by a skip connection is refused with the merging layer named', () => {
    const model = buildModel({ architecture: 'resnet-18', inputShape: [32, 32, 3], numClasses: 3, widthMultiplier: 0.25 }, 1);
    try {
      const inner = model.layers.find((l) => /^layer\d.*_conv1_act$/.test(l.name) || (l.name.endsWith('_conv1_act') && !l.name.startsWith('stem')));
      expect(inner).toBeDefined();
      const data: ImageBatchSource = { images: new Uint8Array(32 * 32 * 3), labels: Int32Array.from([0]), count: 1, shape: [32, 32, 3], scaling: '0-1' };
      expect(() => gradCam(model, data, [0], { layer: inner!.name })).toThrow(/bypasses .* \(a skip connection\); choose a layer after the merge/);
    } finally {
      model.dispose();
    }
  });
});

async function smallCnnBytes(widthMultiplier: number): Promise<Uint8Array> {
  const model = buildModel({ architecture: 'small-cnn', inputShape: [16, 16, 1], numClasses: 4, widthMultiplier }, 3);
  try {
    return await modelToBytes(model);
  } finally {
    model.dispose();
  }
}
