/**
 * Outlier features with a backbone embedding (`dataset.outliers.embedding`): prepareChunk stores
 * each image's embedding, cleanDataset appends it to the isolation forest's features. The images
 * are bars whose per-image statistics (blur, brightness, contrast, entropy, size, bytes) do not
 * tell the few horizontal ones from the many vertical ones; a backbone with an edge-orientation
 * filter does.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import * as tf from '@tensorflow/tfjs';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStoreCache } from '../../../../src/activities/store-cache.js';
import { createCleanDataset } from '../../../../src/activities/phase1/clean-dataset.js';
import { datasetKeys } from '../../../../src/activities/phase1/dataset-keys.js';
import { createPrepareChunk, type ChunkMeta } from '../../../../src/activities/phase1/prepare-chunk.js';
import { silentLogger } from '../../../../src/activities/logger.js';
import type { ChunkSummary, CleanDatasetInput, CleanSummary, DatasetListing } from '../../../../src/activities/types.js';
import { parsePipelineConfig, type DatasetConfig } from '../../../../src/core/config.js';
import { createRng } from '../../../../src/core/rng.js';
import { FEATURE_VECTOR_NAMES } from '../../../../src/data/clean/features.js';
import { decodeOutcomes } from '../../../../src/data/decode-many.js';
import type { DecodePool } from '../../../../src/data/decode-pool.js';
import type { SourceItem } from '../../../../src/data/sources/types.js';
import { initBackend } from '../../../../src/ml/backend.js';
import { BackboneEmbedder, EMBED_BATCH } from '../../../../src/ml/embed-backbone.js';
import { modelArtifacts, writeModelFiles } from '../../../../src/ml/transfer.js';
import { openStore } from '../../../../src/storage/open-store.js';

const SIDE = 16;
const IMAGES = 64;
const ODD = [5, 22, 41, 58];

/** Bars two pixels wide, vertical or (transposed) horizontal, of a random level and phase. */
function bars(horizontal: boolean, level: number, phase: number): Uint8Array {
  const out = new Uint8Array(SIDE * SIDE);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) out[y * SIDE + x] = Math.floor(((horizontal ? y : x) + phase) / 2) % 2 === 0 ? level : 0;
  }
  return out;
}

/** Conv (vertical-edge and horizontal-edge filters, ReLU) then a dense head; cut at the conv. */
async function saveBackbone(dir: string): Promise<string> {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [SIDE, SIDE, 1], filters: 2, kernelSize: 2, activation: 'relu', name: 'edges', useBias: false }),
      tf.layers.flatten({ name: 'flat' }),
      tf.layers.dense({ units: 2, name: 'logits' }),
    ],
  });
  // Filter 0 answers a level change along x (vertical bars), filter 1 along y (horizontal bars).
  const kernel = tf.tensor4d([1, 1, -1, 1, 1, -1, -1, -1], [2, 2, 1, 2]);
  model.getLayer('edges').setWeights([kernel]);
  const uri = await writeModelFiles(await modelArtifacts(model), dir);
  model.dispose();
  kernel.dispose();
  return uri;
}

describe('isolation-forest outliers with a backbone embedding', () => {
  let dir: string;
  let backboneUri: string;

  beforeAll(async () => {
    await initBackend('cpu');
    dir = await mkdtemp(join(tmpdir(), 'dv-embed-'));
    backboneUri = await saveBackbone(join(dir, 'backbone'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function prepareAndClean(dataset: DatasetConfig, name: string) {
    const storeUri = `file://${join(dir, name)}`;
    const store = openStore(storeUri);
    const images = join(dir, 'images');
    const rng = createRng(3);
    const items: SourceItem[] = [];
    for (let i = 0; i < IMAGES; i++) {
      const level = 200 + rng.int(56);
      const pixels = bars(ODD.includes(i), level, rng.int(4));
      // Stored uncompressed, so file size says nothing about content either.
      const png = await sharp(pixels, { raw: { width: SIDE, height: SIDE, channels: 1 } }).png({ compressionLevel: 0 }).toBuffer();
      const key = `img-${String(i).padStart(3, '0')}.png`;
      await openStore(`file://${images}`).put(key, png);
      items.push({ id: `file://${images}/${key}`, source: 'bars', storeUri: `file://${images}`, key, size: png.length, annotations: [{ annotator: 'a', label: i % 2 === 0 ? 'even' : 'odd' }], channelOrder: 'rgb' });
    }
    const prefix = 'datasets/test';
    const keys = datasetKeys(prefix, IMAGES);
    await store.put(keys.chunkItems(0), JSON.stringify(items));
    await store.put(keys.rejected, '[]');
    const stores = createStoreCache();
    const pool = { decodeOutcomes } as unknown as DecodePool;
    const env = new MockActivityEnvironment();
    const classes = ['even', 'odd'];
    const chunk: ChunkSummary = await env.run(createPrepareChunk({ stores, pool: () => pool }), { runId: 'r', storeUri, dataset, listing: { prefix, fingerprint: 'f', classes, chunkSize: IMAGES }, chunk: 0 });
    const listing: DatasetListing = {
      fingerprint: 'f', prefix, sourceUri: images, items: IMAGES, chunks: 1, chunkSize: IMAGES, classes,
      sources: [{ tag: 'bars', uri: images, images: IMAGES }], rejected: 0,
    } as DatasetListing;
    const input: CleanDatasetInput = { runId: 'r', storeUri, dataset, listing, chunks: [chunk], labels: { rule: 'majority', how: 'rule:majority', paused: false } };
    const summary: CleanSummary = await env.run(createCleanDataset({ stores, logger: silentLogger }), input);
    const quarantine = (await store.get(keys.quarantineList)).toString('utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { uri: string; reason: string });
    const flagged = quarantine.filter((q) => q.reason === 'outlier').map((q) => Number(/img-(\d+)/.exec(q.uri)?.[1]));
    const meta = JSON.parse((await store.get(keys.chunkMeta(0))).toString('utf8')) as ChunkMeta;
    return { summary, flagged: flagged.sort((a, b) => a - b), meta };
  }

  const config = (embedding?: Record<string, unknown>) =>
    parsePipelineConfig({
      dataset: {
        inputShape: [SIDE, SIDE, 1],
        split: { val: 0.1, test: 0.2, seed: 11 },
        dedup: { exact: false, nearHamming: -1 },
        outliers: { contamination: ODD.length / IMAGES, scope: 'all', ...(embedding ? { embedding } : {}) },
      },
    }).dataset;

  it('flags the images only the embedding tells apart, records the features used, and is deterministic', async () => {
    const plain = await prepareAndClean(config(), 'plain');
    expect(plain.summary.outliers.features).toEqual([...FEATURE_VECTOR_NAMES]);
    expect(plain.meta.records.every((r) => !r.ok || r.embedding === undefined)).toBe(true);
    // Without the backbone the odd images look like the rest.
    expect(plain.flagged.filter((i) => ODD.includes(i)).length).toBeLessThanOrEqual(1);

    const embedding = { backbone: { uri: backboneUri, cutLayer: 'edges' }, dims: 4 };
    const withBackbone = await prepareAndClean(config(embedding), 'embedded');
    expect(withBackbone.summary.outliers.features).toEqual([...FEATURE_VECTOR_NAMES, 'embedding[0]', 'embedding[1]', 'embedding[2]', 'embedding[3]']);
    for (const r of withBackbone.meta.records) if (r.ok) expect(r.embedding).toHaveLength(4);
    expect(withBackbone.flagged).toEqual(ODD);

    const again = await prepareAndClean(config(embedding), 'again');
    expect(again.meta.records.map((r) => (r.ok ? r.embedding : null))).toEqual(withBackbone.meta.records.map((r) => (r.ok ? r.embedding : null)));
    expect(again.flagged).toEqual(withBackbone.flagged);
  }, 120_000);

  it('embeds in batches without keeping tensors, resizing and converting channels to the backbone input', async () => {
    const before = tf.memory().numTensors;
    const embedder = await BackboneEmbedder.load({ backbone: { uri: backboneUri, cutLayer: 'edges' }, dims: 3 });
    expect(embedder.inputShape).toEqual([SIDE, SIDE, 1]);
    const images = Array.from({ length: EMBED_BATCH + 5 }, (_, i) => bars(i % 2 === 1, 255, 0));
    const afterLoad = tf.memory().numTensors;
    const vectors = embedder.embed(images, [SIDE, SIDE, 1], '0-1');
    expect(vectors).toHaveLength(images.length * 3);
    // Same image, same vector; vertical and horizontal bars far apart.
    expect(Array.from(vectors.subarray(0, 3))).toEqual(Array.from(vectors.subarray(6, 9)));
    expect(Math.hypot(...[0, 1, 2].map((k) => (vectors[k] as number) - (vectors[3 + k] as number)))).toBeGreaterThan(0.1);
    // RGB images of twice the size: resized and averaged to grey for this grey backbone.
    const rgb = Array.from({ length: 3 }, () => new Uint8Array(SIDE * 2 * SIDE * 2 * 3).fill(128));
    expect(embedder.embed(rgb, [SIDE * 2, SIDE * 2, 3], '-1-1')).toHaveLength(9);
    expect(tf.memory().numTensors).toBe(afterLoad + 1); // the cached projection
    embedder.dispose();
    expect(tf.memory().numTensors).toBe(before);
    await expect(BackboneEmbedder.load({ backbone: { uri: backboneUri, cutLayer: 'nope' }, dims: 3 })).rejects.toThrow(/no layer "nope" to cut at; its last layers are edges, flat, logits/);
  });
});
