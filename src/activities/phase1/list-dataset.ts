/**
 * Phase 1, step 1: list every source (materialising the built-in MNIST first), merge them,
 * fingerprint the result with the preparation settings, check double annotations, and write the
 * listing out in chunks for the decode activities.
 */
import { Context } from '@temporalio/activity';
import { createHash } from 'node:crypto';
import type { DatasetConfig, SourceConfig } from '../../core/config.js';
import type { DatasetManifest } from '../../core/manifests.js';
import { canonicalJson } from '../../data/fingerprint.js';
import { materialiseImageFolder } from '../../data/image-folder.js';
import { analyseLabels, arbitrationCsv } from '../../data/label-qa.js';
import { MNIST_CLASS_NAMES, readMnistSplit } from '../../data/mnist-idx.js';
import { listSources, type SourceItem } from '../../data/sources/list-sources.js';
import type { ArtifactStore } from '../../storage/artifact-store.js';
import type { Logger } from '../logger.js';
import type { StoreCache } from '../store-cache.js';
import { readJson } from '../store-json.js';
import type { DatasetListing, ListDatasetInput } from '../types.js';
import { datasetKeys } from './dataset-keys.js';
import { DatasetError } from './errors.js';
import { withKeepAlive } from './keep-alive.js';

/** Bumped when phase 1 changes what it writes, so old prepared datasets are not reused. */
export const PREPARATION_VERSION = 4;
/** A chunk's decoded pixels stay under this many bytes, whatever the image size. */
const CHUNK_PIXEL_BUDGET = 64 * 1024 * 1024;

export function effectiveChunkSize(dataset: DatasetConfig): number {
  const [h, w, c] = dataset.inputShape;
  return Math.max(1, Math.min(dataset.chunkSize, Math.floor(CHUNK_PIXEL_BUDGET / (h * w * c))));
}

/** The settings that change a prepared dataset (not how fast or in how many pieces it is made). */
function preparationSettings(dataset: DatasetConfig) {
  const { chunkSize: _chunkSize, parallelChunks: _parallel, heartbeatTimeoutSeconds: _heartbeat, labelQa, ...rest } = dataset;
  const { arbitrationTimeoutHours: _timeout, ...qa } = labelQa;
  return { v: PREPARATION_VERSION, ...rest, labelQa: qa };
}

export function listingFingerprint(items: readonly SourceItem[], rejected: readonly { uri: string; reason: string }[], dataset: DatasetConfig): string {
  const hash = createHash('sha256');
  hash.update(`dv-dataset/${PREPARATION_VERSION}\n${canonicalJson(preparationSettings(dataset))}\n`);
  for (const item of items) {
    const content = item.sha256 ? `sha256:${item.sha256}` : `size:${item.size ?? '?'}`;
    hash.update(`${canonicalJson([item.id, content, item.annotations, item.group ?? null, item.splitHint ?? null, item.channelOrder])}\n`);
  }
  for (const r of rejected) hash.update(`rejected\t${r.uri}\t${r.reason}\n`);
  return hash.digest('hex');
}

export function createListDataset({ stores, logger }: { stores: StoreCache; logger: Logger }) {
  async function materialiseMnist(store: ArtifactStore, limit: DatasetConfig['limit']): Promise<string> {
    // Limited copies live apart, so a quick run never mixes with (or truncates) the full set.
    const prefix = limit.train || limit.test ? `sources/mnist-first-${limit.train ?? 'all'}-${limit.test ?? 'all'}` : 'sources/mnist';
    for (const split of ['train', 'test'] as const) {
      const data = await readMnistSplit(split);
      const result = await materialiseImageFolder(
        store,
        prefix,
        { split, images: data, labels: data.labels, classNames: MNIST_CLASS_NAMES, limit: limit[split] },
        (p) => Context.current().heartbeat({ stage: `write MNIST ${split} PNGs`, done: p.done, total: p.total }),
      );
      if (result.written > 0) logger.info(`wrote ${result.written} MNIST ${split} images as PNG under ${store.uriOf(result.root)}`);
    }
    return store.uriOf(prefix);
  }

  return async function listDataset(input: ListDatasetInput): Promise<DatasetListing> {
    const ctx = Context.current();
    const store = stores.open(input.storeUri);
    const dataset = input.dataset;
    const sources: SourceConfig[] = [];
    for (const source of dataset.sources) {
      if (source.kind === 'mnist') {
        sources.push({ kind: 'image-folder', uri: await materialiseMnist(store, dataset.limit), tag: source.tag ?? 'mnist', channelOrder: 'rgb' });
      } else {
        sources.push(source);
      }
    }
    const listing = await withKeepAlive('list sources', () => listSources(sources, (uri) => stores.open(uri)));
    if (listing.items.length === 0) {
      throw new DatasetError(`no images found in ${sources.map((s) => ('uri' in s ? s.uri : s.kind)).join(', ')}${listing.rejected.length ? ` (${listing.rejected.length} listed paths rejected)` : ''}`);
    }
    if (listing.classes.length < 2) {
      throw new DatasetError(`${sources.map((s) => ('uri' in s ? s.uri : s.kind)).join(', ')}: need at least 2 classes to train a classifier, found ${listing.classes.length} (${listing.classes.join(', ')})`);
    }

    const fingerprint = listingFingerprint(listing.items, listing.rejected, dataset);
    const chunkSize = effectiveChunkSize(dataset);
    const keys = datasetKeys(`datasets/${fingerprint.slice(0, 32)}`, chunkSize);
    const sourceUri = listing.sources.map((s) => s.uri).join(', ');
    const chunks = Math.ceil(listing.items.length / chunkSize);
    const qa = analyseLabels(listing.items, listing.classes);
    const base: DatasetListing = {
      fingerprint,
      prefix: keys.prefix,
      sourceUri,
      items: listing.items.length + listing.rejected.length,
      chunks,
      chunkSize,
      classes: listing.classes,
      sources: listing.sources,
      rejected: listing.rejected.length,
      labelQa: { multiplyAnnotated: qa.multiplyAnnotated, conflicted: qa.conflicted.length, conflictRate: qa.conflictRate, perClass: qa.perClass, matrix: qa.matrix },
    };

    if (await store.exists(keys.manifest)) {
      const manifest = await readJson<DatasetManifest>(store, keys.manifest);
      logger.info(`dataset ${fingerprint.slice(0, 12)} unchanged: reusing its shards`, { runId: input.runId });
      return { ...base, reused: { ...manifest, stats: { ...manifest.stats, reused: true, seconds: 0 } } };
    }

    for (let chunk = 0; chunk < chunks; chunk++) {
      const items = listing.items.slice(chunk * chunkSize, (chunk + 1) * chunkSize);
      await store.put(keys.chunkItems(chunk), JSON.stringify(items), { contentType: 'application/json' });
      if (chunk % 8 === 0) ctx.heartbeat({ stage: 'write listing', done: chunk, total: chunks });
    }
    await store.put(keys.rejected, JSON.stringify(listing.rejected), { contentType: 'application/json' });
    if (qa.conflicted.length > 0) {
      const conflicted = new Set(qa.conflicted);
      const conflictedItems = listing.items.filter((i) => conflicted.has(i.id));
      await store.put(keys.arbitration, arbitrationCsv(conflictedItems), { contentType: 'text/csv' });
      // The same items for the activity that applies an arbitration, which then reads only these.
      await store.put(keys.conflicts, JSON.stringify(conflictedItems), { contentType: 'application/json' });
      base.arbitrationUri = store.uriOf(keys.arbitration);
    }
    logger.info(
      `listed ${listing.items.length} images in ${listing.classes.length} classes from ${listing.sources.length} source(s)` +
        `${listing.rejected.length ? `, ${listing.rejected.length} rejected` : ''}; ${chunks} chunk(s) of up to ${chunkSize}` +
        `${qa.multiplyAnnotated ? `; ${qa.conflicted.length}/${qa.multiplyAnnotated} double-annotated images conflict (${(qa.conflictRate * 100).toFixed(1)}%)` : ''}`,
      { runId: input.runId },
    );
    return base;
  };
}
