import { Context } from '@temporalio/activity';
import type { DatasetManifest, SplitSummary } from '../core/manifests.js';
import { autoWorkers, decodeMany } from '../data/decode-many.js';
import { DecodePool } from '../data/decode-pool.js';
import { datasetFingerprint } from '../data/fingerprint.js';
import { listImageFolder, materialiseImageFolder, type ImageFolderListing } from '../data/image-folder.js';
import { MNIST_CLASS_NAMES, readMnistSplit } from '../data/mnist-idx.js';
import { writeShards } from '../data/shards.js';
import { stratifiedSplit } from '../data/split.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import type { Logger } from './logger.js';
import type { StoreCache } from './store-cache.js';
import type { PrepareDatasetInput } from './types.js';

/** Bad source data: retrying cannot help, so the workflow fails at once with this message. */
export class DatasetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetError';
  }
}

interface SourceLayout {
  store: ArtifactStore;
  uri: string;
  train: ImageFolderListing;
  /** A separate test folder, when the source has one. */
  test?: ImageFolderListing;
}

const MANIFEST_VERSION = 1;

/** Phase 1: the source as an ImageFolder, decoded, split and written as shards. */
export function createPrepareDataset({ stores, logger }: { stores: StoreCache; logger: Logger }) {
  async function mnistSource(store: ArtifactStore, limit: { train?: number; test?: number }): Promise<SourceLayout> {
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
    return folderSource(store, prefix);
  }

  async function folderSource(store: ArtifactStore, prefix: string): Promise<SourceLayout> {
    const root = prefix.replace(/\/+$/, '');
    const under = (p: string) => (root ? `${root}/${p}` : p);
    const hasSplitFolders = (await store.list(under('train/'))).length > 0;
    if (!hasSplitFolders) {
      return { store, uri: store.uriOf(root), train: await listImageFolder(store, root) };
    }
    const train = await listImageFolder(store, under('train'));
    const test = (await store.list(under('test/'))).length > 0 ? await listImageFolder(store, under('test')) : undefined;
    if (test) {
      const unknown = test.classes.filter((c) => !train.classes.includes(c));
      if (unknown.length) {
        throw new DatasetError(`${store.uriOf(under('test'))}: classes ${unknown.join(', ')} have no training images under ${store.uriOf(under('train'))}`);
      }
      // Test labels follow the training class order.
      test.items = test.items.map((it) => ({ ...it, label: train.classes.indexOf(it.className) }));
      test.classes = train.classes;
    }
    return { store, uri: store.uriOf(root), train, test };
  }

  return async function prepareDataset(input: PrepareDatasetInput): Promise<DatasetManifest> {
    const ctx = Context.current();
    const started = Date.now();
    const store = stores.open(input.storeUri);
    const cfg = input.dataset;
    const first = cfg.sources[0];
    if (first === undefined || first.kind === 'csv') throw new DatasetError('only one mnist or image-folder source is supported here');
    const source = first.kind === 'mnist' ? await mnistSource(store, cfg.limit) : await folderSource(stores.open(first.uri), '');
    const classes = source.train.classes;
    const [height, width, channels] = cfg.inputShape;

    const hasTestFolder = source.test !== undefined;
    const fractions = { val: cfg.split.val, test: hasTestFolder ? 0 : cfg.split.test };
    const settings = { v: MANIFEST_VERSION, inputShape: cfg.inputShape, scaling: cfg.scaling, fractions, seed: cfg.split.seed };
    const fingerprint = datasetFingerprint([...source.train.items, ...(source.test?.items ?? [])], settings);
    const prefix = `datasets/${fingerprint.slice(0, 32)}`;
    const manifestKey = `${prefix}/manifest.json`;

    const existing = await store.stat(manifestKey);
    if (existing) {
      const manifest = JSON.parse((await store.get(manifestKey)).toString('utf8')) as DatasetManifest;
      logger.info(`dataset ${fingerprint.slice(0, 12)} unchanged: reusing its shards`, { runId: input.runId });
      return { ...manifest, stats: { ...manifest.stats, reused: true, seconds: (Date.now() - started) / 1000 } };
    }

    const decodeOptions = { height, width, channels } as const;
    const pool = new DecodePool(autoWorkers());
    let trainPixels: Uint8Array;
    let testPixels: Uint8Array | undefined;
    try {
      const heartbeat = (what: string) => (done: number, total: number) => ctx.heartbeat({ stage: `decode ${what}`, done, total });
      trainPixels = await decodeMany(source.store, source.train.items.map((i) => i.key), decodeOptions, 64, { pool, onProgress: heartbeat('train') });
      if (source.test) {
        testPixels = await decodeMany(source.store, source.test.items.map((i) => i.key), decodeOptions, 64, { pool, onProgress: heartbeat('test') });
      }
    } finally {
      await pool.close();
    }

    const imageBytes = height * width * channels;
    const trainLabels = Int32Array.from(source.train.items, (i) => i.label);
    const parts = stratifiedSplit(trainLabels, { train: 1 - fractions.val - fractions.test, val: fractions.val, test: fractions.test }, cfg.split.seed);
    const gather = (pixels: Uint8Array, labels: Int32Array, indices: readonly number[]) => {
      const images = new Uint8Array(indices.length * imageBytes);
      const out = new Int32Array(indices.length);
      indices.forEach((src, dst) => {
        images.set(pixels.subarray(src * imageBytes, (src + 1) * imageBytes), dst * imageBytes);
        out[dst] = labels[src] as number;
      });
      return { images, labels: out, count: indices.length };
    };
    const splits = {
      train: gather(trainPixels, trainLabels, parts.train),
      val: gather(trainPixels, trainLabels, parts.val),
      test:
        source.test && testPixels
          ? { images: testPixels, labels: Int32Array.from(source.test.items, (i) => i.label), count: source.test.items.length }
          : gather(trainPixels, trainLabels, parts.test),
    };

    const summaries = {} as Record<'train' | 'val' | 'test', SplitSummary>;
    for (const split of ['train', 'val', 'test'] as const) {
      const s = splits[split];
      const { index, indexUri } = await writeShards(store, prefix, { ...s, shape: cfg.inputShape, scaling: cfg.scaling, classes, split });
      summaries[split] = { indexUri, count: index.count, perClass: index.perClass };
      ctx.heartbeat({ stage: `shards ${split}` });
    }
    if (summaries.train.count === 0) throw new DatasetError(`${source.uri}: no training images left after the split`);
    if (summaries.test.count === 0) throw new DatasetError(`${source.uri}: no test images (add a test/ folder or set dataset.split.test > 0)`);

    const manifest: DatasetManifest = {
      fingerprint,
      sourceUri: source.uri,
      classes,
      inputShape: cfg.inputShape,
      scaling: cfg.scaling,
      splits: summaries,
      stats: {
        sourceImages: source.train.items.length + (source.test?.items.length ?? 0),
        decoded: trainPixels.length / imageBytes + (testPixels ? testPixels.length / imageBytes : 0),
        accepted: summaries.train.count + summaries.val.count + summaries.test.count,
        quarantined: 0,
        seconds: (Date.now() - started) / 1000,
        reused: false,
      },
      fit: cfg.fit,
      augmentation: cfg.augmentation,
      dataReportUri: '',
      manifestUri: store.uriOf(manifestKey),
    };
    // Written last: its presence means every shard above is complete.
    await store.put(manifestKey, JSON.stringify(manifest, null, 2), { contentType: 'application/json' });
    logger.info(`dataset ready: ${summaries.train.count} train / ${summaries.val.count} val / ${summaries.test.count} test in ${manifest.stats.seconds.toFixed(1)} s`, { runId: input.runId });
    return manifest;
  };
}
