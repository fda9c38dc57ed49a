/**
 * Phase 1, step 4 (one activity per split): stream the chunks' decoded pixels into the split's
 * shards, expanding the training split offline when the config asks for it. Memory holds one
 * chunk and one shard at a time.
 */
import { Context } from '@temporalio/activity';
import type { SplitSummary } from '../../core/manifests.js';
import { expandOffline } from '../../data/augment.js';
import { ShardWriter } from '../../data/shards.js';
import type { StoreCache } from '../store-cache.js';
import type { WriteSplitInput } from '../types.js';
import { readJson } from '../store-json.js';
import { SPLIT_CODES, type DatasetPlan } from './clean-dataset.js';
import { datasetKeys } from './dataset-keys.js';

export function createWriteSplitShards({ stores }: { stores: StoreCache }) {
  return async function writeSplitShards(input: WriteSplitInput): Promise<SplitSummary> {
    const ctx = Context.current();
    const store = stores.open(input.storeUri);
    const { dataset, listing, split } = input;
    const keys = datasetKeys(listing.prefix, listing.chunkSize);
    const plan = await readJson<DatasetPlan>(store, keys.plan);
    const shape = dataset.inputShape;
    const imageBytes = shape[0] * shape[1] * shape[2];
    const code = SPLIT_CODES[split];
    const augmentation = dataset.augmentation;
    const expand = split === 'train' && augmentation.offlineFactor > 1;
    const writer = await ShardWriter.open(store, keys.shards, { split, shape, scaling: dataset.scaling, classes: listing.classes });
    let seen = 0;
    for (let chunk = 0; chunk < listing.chunks; chunk++) {
      const assign = plan.assign[chunk] ?? [];
      const picked: number[] = [];
      assign.forEach((s, pixel) => {
        if (s === code) picked.push(pixel);
      });
      if (picked.length === 0) continue;
      const pixels = await store.get(keys.chunkPixels(chunk));
      if (pixels.length !== assign.length * imageBytes) {
        throw new Error(`${store.uriOf(keys.chunkPixels(chunk))}: ${pixels.length} bytes, expected ${assign.length} images of ${imageBytes}`);
      }
      const images = new Uint8Array(picked.length * imageBytes);
      const labels = new Int32Array(picked.length);
      picked.forEach((pixel, k) => {
        images.set(pixels.subarray(pixel * imageBytes, (pixel + 1) * imageBytes), k * imageBytes);
        labels[k] = plan.labels[chunk]?.[pixel] ?? -1;
      });
      if (expand) {
        const out = expandOffline(images, labels, picked.length, shape, augmentation.policy, augmentation.offlineFactor, augmentation.seed, seen);
        await writer.add(out.images, out.labels, out.count);
      } else {
        await writer.add(images, labels, picked.length);
      }
      seen += picked.length;
      ctx.heartbeat({ stage: `shards ${split}`, done: chunk + 1, total: listing.chunks });
    }
    const { index, indexUri } = await writer.finish();
    return { indexUri, count: index.count, perClass: index.perClass };
  };
}
