import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backboneFileReader } from '../../../src/activities/cpu-activities.js';
import type { StoreCache } from '../../../src/activities/store-cache.js';
import { initBackend } from '../../../src/ml/backend.js';
import { createTfjsEngine } from '../../../src/ml/tfjs-engine.js';
import { modelArtifacts, writeModelFiles } from '../../../src/ml/transfer.js';
import type { ArtifactStore } from '../../../src/storage/artifact-store.js';

const dir = mkdtempSync(join(tmpdir(), 'dv-transfer-pipeline-'));
let backboneUri = '';

beforeAll(async () => {
  await initBackend('cpu');
  const input = tf.input({ shape: [8, 8, 1], name: 'image' });
  let x = tf.layers.conv2d({ filters: 2, kernelSize: 3, name: 'conv' }).apply(input) as tf.SymbolicTensor; // 2*9 + 2 = 20
  x = tf.layers.flatten({ name: 'flatten' }).apply(x) as tf.SymbolicTensor; // 6*6*2 = 72 features
  x = tf.layers.dense({ units: 5, name: 'feat' }).apply(x) as tf.SymbolicTensor; // 72*5 + 5 = 365
  const out = tf.layers.dense({ units: 7, name: 'old_logits' }).apply(x) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: out });
  backboneUri = await writeModelFiles(await modelArtifacts(model), join(dir, 'backbone'));
  model.dispose();
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('transfer learning in the pipeline', () => {
  it('paramsCount counts the cut backbone plus the new head', async () => {
    const engine = createTfjsEngine({ backend: 'cpu' });
    const count = await engine.paramsCount({ architecture: 'small-cnn', inputShape: [8, 8, 1], numClasses: 3, backbone: { uri: backboneUri, cutLayer: 'feat' } });
    // conv 20 + feat 365 + head dense 5*3 + 3 = 18; old_logits is cut away.
    expect(count).toBe(20 + 365 + 18);
  });

  it('reads s3:// backbone files through the store of their folder, local ones from disk', async () => {
    const opened: string[] = [];
    const stores: StoreCache = {
      open(uri: string): ArtifactStore {
        opened.push(uri);
        return { get: (key: string) => Promise.resolve(Buffer.from(`${uri}|${key}`)) } as unknown as ArtifactStore;
      },
    };
    const read = backboneFileReader(stores);
    expect(new TextDecoder().decode(await read('s3://bucket/models/fashion/model.json'))).toBe('s3://bucket/models/fashion|model.json');
    expect(opened).toEqual(['s3://bucket/models/fashion']);
    expect((await read(backboneUri)).byteLength).toBeGreaterThan(0);
    await expect(read('s3://bucket')).rejects.toThrow(/names no object/);
  });
});
