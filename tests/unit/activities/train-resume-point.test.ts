/**
 * Where a retried training attempt resumes. A worker killed right after writing an epoch's
 * checkpoint may never deliver the heartbeat naming it; the retry must still start from that
 * checkpoint (found in the store), not from the older one the last delivered heartbeat names.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { encodeCheckpoint } from '../../../src/activities/checkpoint-codec.js';
import { createGpuActivities, type TrainingHeartbeat } from '../../../src/activities/gpu-activities.js';
import { silentLogger } from '../../../src/activities/logger.js';
import { runKeys } from '../../../src/activities/run-keys.js';
import { createStoreCache } from '../../../src/activities/store-cache.js';
import type { TrainModelInput } from '../../../src/activities/types.js';
import { parsePipelineConfig } from '../../../src/core/config.js';
import type { EpochMetrics, TrainResult } from '../../../src/core/manifests.js';
import { writeShards } from '../../../src/data/shards.js';
import type { TrainingEngine } from '../../../src/ml/engine.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dv-resume-point-'));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const metrics = (epoch: number): EpochMetrics => ({ epoch, loss: 1 / epoch, accuracy: 0.5, valLoss: 1 / epoch, valAccuracy: 0.5, learningRate: 0.001, imagesPerSecond: 1, seconds: 1 }) as EpochMetrics;

it('a retry resumes from the newest checkpoint in the store even when the last heartbeat names an older one', async () => {
  const storeUri = `file://${dir}/artifacts`;
  const stores = createStoreCache();
  const store = stores.open(storeUri);
  const runId = 'sweep/trial-1';
  const keys = runKeys(runId);
  const data = { images: new Uint8Array(4 * 4 * 4), labels: new Int32Array([0, 1, 0, 1]), count: 4, shape: [4, 4, 1] as [number, number, number], scaling: '0-1' as const, classes: ['a', 'b'] };
  const train = await writeShards(store, 'data', { ...data, split: 'train' });
  const val = await writeShards(store, 'data', { ...data, split: 'val' });

  const checkpoint = (epoch: number) => encodeCheckpoint({ epoch, model: new Uint8Array([epoch, epoch]), optimizer: new Uint8Array([epoch]), history: Array.from({ length: epoch }, (_, i) => metrics(i + 1)) });
  const first = await store.put(keys.checkpoint(1), checkpoint(1));
  await store.put(keys.checkpoint(2), checkpoint(2));

  let trained = 0;
  const engine: TrainingEngine = {
    name: 'fake',
    backend: () => 'none',
    paramsCount: async () => 0,
    train: async () => {
      trained++;
      throw new Error('every epoch was already trained; nothing should train again');
    },
    predict: async () => new Float32Array(),
    benchmark: async () => { throw new Error('not used'); },
  };
  const config = parsePipelineConfig({});
  const input = {
    runId,
    storeUri,
    dataset: { splits: { train: { indexUri: train.indexUri }, val: { indexUri: val.indexUri } } },
    plan: { architecture: 'small-cnn', inputShape: [4, 4, 1], numClasses: 2 },
    training: { ...config.training, epochs: 4, earlyStopping: undefined },
    stopAfterEpoch: 2,
  } as unknown as TrainModelInput;
  const heartbeat: TrainingHeartbeat = { epoch: 1, checkpointUri: first.uri };
  const env = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: heartbeat });
  const result: TrainResult = await env.run(createGpuActivities({ stores, engine, logger: silentLogger }).trainModel, input);

  expect(trained).toBe(0);
  expect(result.resumedFromEpoch).toBe(2);
  expect(result.history.map((h) => h.epoch)).toEqual([1, 2]);
  expect([...(await store.get(store.keyOf(result.modelUri)))]).toEqual([2, 2]);
});
