/**
 * Phase 1, last step: the data report (class balance, quarantine reasons with thumbnails,
 * label-QA conflict matrix, outliers) and then the manifest. The manifest is written last: its
 * presence means every shard and report it names is complete.
 */
import sharp from 'sharp';
import type { DataReport, DatasetManifest, QuarantineExample, QuarantineReason } from '../../core/manifests.js';
import type { ArtifactStore } from '../../storage/artifact-store.js';
import type { Logger } from '../logger.js';
import type { StoreCache } from '../store-cache.js';
import type { FinaliseDatasetInput } from '../types.js';
import { readJson } from '../store-json.js';
import type { DatasetPlan, ReportExample } from './clean-dataset.js';
import { datasetKeys } from './dataset-keys.js';

/** Thumbnails are at least this many pixels on their longer side (tiny images are enlarged). */
const THUMB_MIN = 64;
const THUMB_MAX = 96;

export async function thumbnail(pixels: Uint8Array, shape: [number, number, number]): Promise<string> {
  const [h, w, c] = shape;
  const longer = Math.max(h, w);
  const target = Math.min(THUMB_MAX, Math.max(THUMB_MIN, longer));
  const scale = target / longer;
  const png = await sharp(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), { raw: { width: w, height: h, channels: c as 1 | 3 } })
    .resize({ width: Math.max(1, Math.round(w * scale)), height: Math.max(1, Math.round(h * scale)), kernel: longer < THUMB_MIN ? 'nearest' : 'lanczos3' })
    .png()
    .toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

async function withThumbnails(store: ArtifactStore, keys: ReturnType<typeof datasetKeys>, examples: ReportExample[], shape: [number, number, number]) {
  const imageBytes = shape[0] * shape[1] * shape[2];
  const chunks = new Map<number, Buffer>();
  const out: (QuarantineExample & { reason: QuarantineReason; score?: number })[] = [];
  for (const ex of examples) {
    const item: QuarantineExample & { reason: QuarantineReason; score?: number } = { reason: ex.reason, uri: ex.uri, source: ex.source, detail: ex.detail };
    if (ex.score !== undefined) item.score = ex.score;
    if (ex.chunk !== undefined && ex.pixel !== undefined) {
      let pixels = chunks.get(ex.chunk);
      if (!pixels) {
        pixels = await store.get(keys.chunkPixels(ex.chunk));
        chunks.set(ex.chunk, pixels);
      }
      item.thumbnail = await thumbnail(pixels.subarray(ex.pixel * imageBytes, (ex.pixel + 1) * imageBytes), shape);
    }
    out.push(item);
  }
  return out;
}

export function createFinaliseDataset({ stores, logger }: { stores: StoreCache; logger: Logger }) {
  return async function finaliseDataset(input: FinaliseDatasetInput): Promise<DatasetManifest> {
    const store = stores.open(input.storeUri);
    const { dataset, listing, cleaned, splits, labels } = input;
    const keys = datasetKeys(listing.prefix, listing.chunkSize);
    const plan = await readJson<DatasetPlan>(store, keys.plan);
    const examples = await withThumbnails(store, keys, plan.examples, dataset.inputShape);
    const augmentation = { ...dataset.augmentation };

    const quarantine = Object.entries(cleaned.byReason)
      .map(([reason, count]) => ({
        reason: reason as QuarantineReason,
        count: count ?? 0,
        examples: examples.filter((e) => e.reason === reason && e.score === undefined).map(({ reason: _r, score: _s, ...e }) => e),
      }))
      .sort((a, b) => b.count - a.count);
    const report: DataReport = {
      inputCount: listing.items,
      accepted: cleaned.accepted,
      quarantined: cleaned.quarantined,
      sources: listing.sources,
      classBalance: listing.classes.map((className, i) => ({
        className,
        train: splits.train.perClass[i] ?? 0,
        val: splits.val.perClass[i] ?? 0,
        test: splits.test.perClass[i] ?? 0,
      })),
      quarantine,
      quarantineListUri: cleaned.quarantineListUri,
      labelQa: {
        ...listing.labelQa,
        threshold: dataset.labelQa.conflictThreshold,
        paused: labels.paused,
        resolution: labels.how,
        ...(listing.arbitrationUri ? { arbitrationUri: listing.arbitrationUri } : {}),
        dropped: cleaned.labelDropped,
      },
      duplicates: { ...cleaned.duplicates, nearHamming: dataset.dedup.nearHamming },
      outliers: {
        ...cleaned.outliers,
        contamination: dataset.outliers.contamination,
        examples: examples.filter((e) => e.score !== undefined).map(({ reason: _r, ...e }) => ({ ...e, score: e.score as number })),
      },
      augmentation,
    };
    await store.put(keys.dataReport, JSON.stringify(report, null, 2), { contentType: 'application/json' });

    const manifest: DatasetManifest = {
      fingerprint: listing.fingerprint,
      sourceUri: listing.sourceUri,
      classes: listing.classes,
      inputShape: dataset.inputShape,
      scaling: dataset.scaling,
      fit: dataset.fit,
      splits,
      augmentation,
      stats: {
        sourceImages: listing.items,
        decoded: cleaned.accepted + Object.entries(cleaned.byReason)
          .filter(([r]) => ['duplicate', 'near-duplicate', 'leakage', 'outlier', 'label-conflict'].includes(r))
          .reduce((sum, [, n]) => sum + (n ?? 0), 0),
        accepted: cleaned.accepted,
        quarantined: cleaned.quarantined,
        seconds: 0,
        reused: false,
      },
      dataReportUri: store.uriOf(keys.dataReport),
      manifestUri: store.uriOf(keys.manifest),
    };
    await store.put(keys.manifest, JSON.stringify(manifest, null, 2), { contentType: 'application/json' });
    logger.info(`dataset ready: ${splits.train.count} train / ${splits.val.count} val / ${splits.test.count} test, ${cleaned.quarantined} quarantined`, { runId: input.runId });
    return manifest;
  };
}
