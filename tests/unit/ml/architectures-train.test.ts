/**
 * Every architecture trains through the project's training loop on the wasm backend at a tiny
 * size (32x32 quadrant images, narrow widths, ViT with 8 px patches), and no tensor outlives an
 * epoch: the live tensor count after epoch 2 equals that after epoch 1, and nothing is left
 * once training returns.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend.js';
import { ARCHITECTURE_NAMES, type ArchitectureName, type EpochReport, type ModelSpec } from '../../../src/ml/engine.js';
import { runTraining } from '../../../src/ml/train-loop.js';
import { quadrantImages } from './synthetic-images.js';

const SIDE = 32;
const IMAGES = 64;

beforeAll(async () => {
  await initBackend('wasm');
});

function tinySpec(architecture: ArchitectureName): ModelSpec {
  const spec: ModelSpec = { architecture, inputShape: [SIDE, SIDE, 1], numClasses: 4 };
  if (architecture === 'vit-tiny') return { ...spec, patchSize: 8, widthMultiplier: 0.25 };
  if (architecture === 'small-cnn') return { ...spec, widthMultiplier: 0.5 };
  return { ...spec, widthMultiplier: 0.25 };
}

const timings: string[] = [];

describe('every architecture trains on wasm', () => {
  it.each(ARCHITECTURE_NAMES)('%s: two epochs, finite loss, no tensor growth across an epoch', async (architecture) => {
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const tensorsAtEpochEnd: number[] = [];
    const reports: EpochReport[] = [];
    const outcome = await runTraining({
      model: tinySpec(architecture),
      spec: { epochs: 2, batchSize: 16, learningRate: 1e-3, seed: 5 },
      train: quadrantImages(IMAGES, 11, SIDE),
      onEpochEnd: (report) => {
        tensorsAtEpochEnd.push(tf.memory().numTensors);
        reports.push(report);
        return Promise.resolve();
      },
    });
    expect(reports).toHaveLength(2);
    for (const r of reports) expect(Number.isFinite(r.loss)).toBe(true);
    expect(tensorsAtEpochEnd[1]).toBe(tensorsAtEpochEnd[0]);
    expect(tf.memory().numTensors).toBe(before);
    expect(outcome.paramsCount).toBeGreaterThan(0);
    timings.push(`${architecture.padEnd(20)} ${String(outcome.paramsCount).padStart(9)} params  epoch 1 ${reports[0]!.seconds.toFixed(2)} s, epoch 2 ${reports[1]!.seconds.toFixed(2)} s (${IMAGES} images ${SIDE}x${SIDE}, batch 16)`);
  });

  it('timings', () => {
    console.log(`one-epoch timings on wasm:\n${timings.join('\n')}`);
  });
});
