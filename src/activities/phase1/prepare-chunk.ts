/**
 * Phase 1, step 2 (one activity per chunk): fetch and decode a chunk's images, quarantining
 * the ones that cannot be used with their reason, and compute each decoded image's content
 * hash, perceptual hash and outlier features (with `dataset.outliers.embedding`, a backbone's
 * embedding too). Pixels are written first and the meta file last,
 * so a chunk is either finished (and skipped by a retry) or redone whole.
 */
import { Context } from '@temporalio/activity';
import { hashToHex, perceptualHash } from '../../data/clean/phash.js';
import { imageFeatures, type ImageFeatures } from '../../data/clean/features.js';
import { greyThumbnail } from '../../data/clean/verified-duplicates.js';
import type { DecodeOptions } from '../../data/decode.js';
import type { DecodeOutcome, DecodePool } from '../../data/decode-pool.js';
import { forEachBounded } from '../../data/bounded.js';
import type { Annotation, SourceItem } from '../../data/sources/list-sources.js';
import type { QuarantineReason } from '../../core/manifests.js';
import { activeBackend, initBackend } from '../../ml/backend.js';
import { BackboneEmbedder } from '../../ml/embed-backbone.js';
import { readLocalFile } from '../../ml/transfer.js';
import { ArtifactNotFoundError } from '../../storage/artifact-store.js';
import type { StoreCache } from '../store-cache.js';
import { readJson } from '../store-json.js';
import type { ChunkSummary, PrepareChunkInput } from '../types.js';
import { datasetKeys } from './dataset-keys.js';
import { effectiveChunkSize } from './list-dataset.js';

/** 3: records carry `embedding` when a backbone is configured. */
export const CHUNK_META_VERSION = 3;

interface RecordBase {
  id: string;
  source: string;
  annotations: Annotation[];
  group?: string;
  splitHint?: 'train' | 'test';
  sha256?: string;
}

/** One listed image after decoding: its pixels are record `pixel` of the chunk's pixel file. */
export interface DecodedRecord extends RecordBase {
  ok: true;
  pixel: number;
  phash: string;
  /** 16x16 grey thumbnail, base64: confirms perceptual-hash near duplicates. */
  thumb: string;
  features: ImageFeatures;
  /** The backbone embedding (`dataset.outliers.embedding.dims` numbers), when one is configured. */
  embedding?: number[];
}

export interface QuarantinedRecord extends RecordBase {
  ok: false;
  reason: QuarantineReason;
  detail: string;
}

export type ChunkRecord = DecodedRecord | QuarantinedRecord;

export interface ChunkMeta {
  version: typeof CHUNK_META_VERSION;
  chunk: number;
  shape: [number, number, number];
  decoded: number;
  records: ChunkRecord[];
  seconds: number;
}

const FETCH_CONCURRENCY = 32;
/** Images per decode job: enough to amortise messages, small enough for steady heartbeats. */
const DECODE_BATCH = 512;

export function summarise(meta: ChunkMeta, reused: boolean): ChunkSummary {
  const byReason: ChunkSummary['byReason'] = {};
  for (const r of meta.records) if (!r.ok) byReason[r.reason] = (byReason[r.reason] ?? 0) + 1;
  return {
    chunk: meta.chunk,
    items: meta.records.length,
    decoded: meta.decoded,
    quarantined: meta.records.length - meta.decoded,
    byReason,
    seconds: meta.seconds,
    reused,
  };
}

const UNREADABLE_CODES = new Set(['EACCES', 'EPERM', 'EISDIR', 'ENOENT', 'ELOOP', 'ENAMETOOLONG']);

function isUnreadable(err: unknown): boolean {
  if (err instanceof ArtifactNotFoundError) return true;
  const code = (err as { code?: unknown } | null)?.code;
  const status = (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  return (typeof code === 'string' && UNREADABLE_CODES.has(code)) || status === 403 || status === 404;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

type EmbeddingConfig = NonNullable<PrepareChunkInput['dataset']['outliers']['embedding']>;

/**
 * Reads a backbone file by URI: s3:// through the store cache (the store of the file's folder),
 * anything else from the local file system.
 */
function backboneReader(stores: StoreCache): (uri: string) => Promise<Uint8Array> {
  return async (uri) => {
    if (!uri.startsWith('s3://')) return readLocalFile(uri);
    const slash = uri.lastIndexOf('/');
    return stores.open(uri.slice(0, slash)).get(uri.slice(slash + 1));
  };
}

/** Embedding numbers as stored in the chunk meta: 6 significant digits keep the JSON small. */
const storedNumber = (v: number): number => Number(v.toPrecision(6));

export function createPrepareChunk({ stores, pool }: { stores: StoreCache; pool: () => DecodePool }) {
  // The last backbone loaded, kept for the next chunk (every chunk of a dataset uses the same).
  let cached: { key: string; embedder: Promise<BackboneEmbedder> } | undefined;
  const embedderFor = async (config: EmbeddingConfig): Promise<BackboneEmbedder> => {
    const key = JSON.stringify(config);
    if (cached?.key !== key) {
      const previous = cached;
      if (activeBackend() === undefined) await initBackend('auto');
      const embedder = BackboneEmbedder.load({ backbone: config.backbone, dims: config.dims, read: backboneReader(stores) });
      cached = { key, embedder };
      // A failed load is not kept: the retry loads again.
      embedder.catch(() => {
        if (cached?.embedder === embedder) cached = undefined;
      });
      previous?.embedder.then((e) => e.dispose(), () => undefined);
    }
    return cached.embedder;
  };

  return async function prepareChunk(input: PrepareChunkInput): Promise<ChunkSummary> {
    const ctx = Context.current();
    const started = Date.now();
    const store = stores.open(input.storeUri);
    const keys = datasetKeys(input.listing.prefix, input.listing.chunkSize ?? effectiveChunkSize(input.dataset));
    const metaKey = keys.chunkMeta(input.chunk);
    if (await store.exists(metaKey)) {
      const meta = await readJson<ChunkMeta>(store, metaKey);
      if (meta.version === CHUNK_META_VERSION) return summarise(meta, true);
    }

    const items = await readJson<SourceItem[]>(store, keys.chunkItems(input.chunk));
    const [height, width, channels] = input.dataset.inputShape;
    const imageBytes = height * width * channels;
    const options: DecodeOptions = {
      height,
      width,
      channels,
      fit: input.dataset.fit,
      background: input.dataset.background,
      maxPixels: input.dataset.quarantine.maxPixels,
      minSide: input.dataset.quarantine.minSide,
    };

    const embedding = input.dataset.outliers.embedding;
    const embedder = embedding ? await embedderFor(embedding) : undefined;
    const records: ChunkRecord[] = new Array<ChunkRecord>(items.length);
    const pixels: Uint8Array[] = [];
    let decoded = 0;
    for (let start = 0; start < items.length; start += DECODE_BATCH) {
      const batch = items.slice(start, start + DECODE_BATCH);
      const bytes: (Uint8Array | undefined)[] = new Array<Uint8Array | undefined>(batch.length);
      const unreadable = new Map<number, string>();
      await forEachBounded(batch.length, FETCH_CONCURRENCY, async (i) => {
        const item = batch[i] as SourceItem;
        try {
          bytes[i] = await stores.open(item.storeUri).get(item.key);
        } catch (err) {
          // A file that is gone or that we may not read is the image's problem; anything else
          // (a network error, a throttled store) fails the chunk so a retry reads it again.
          if (!isUnreadable(err)) throw err;
          unreadable.set(i, `cannot read ${item.id}: ${describe(err)}`);
        }
      });
      const readable = batch.flatMap((item, i) => (bytes[i] ? [{ i, item, bytes: bytes[i] }] : []));
      const outcomes: DecodeOutcome[] = await pool().decodeOutcomes(
        readable.map((r) => ({ key: r.item.id, bytes: r.bytes, channelOrder: r.item.channelOrder })),
        options,
      );
      const byIndex = new Map<number, DecodeOutcome>();
      readable.forEach((r, k) => byIndex.set(r.i, outcomes[k] as DecodeOutcome));

      batch.forEach((item, i) => {
        const base: RecordBase = { id: item.id, source: item.source, annotations: item.annotations };
        if (item.group !== undefined) base.group = item.group;
        if (item.splitHint !== undefined) base.splitHint = item.splitHint;
        const outcome = byIndex.get(i);
        if (!outcome) {
          records[start + i] = { ...base, ok: false, reason: 'unreadable', detail: unreadable.get(i) ?? 'not read' };
          return;
        }
        base.sha256 = outcome.sha256;
        if (!outcome.ok) {
          records[start + i] = { ...base, ok: false, reason: outcome.reason, detail: outcome.detail };
          return;
        }
        const size = bytes[i]?.length ?? 0;
        records[start + i] = {
          ...base,
          ok: true,
          pixel: decoded++,
          phash: hashToHex(perceptualHash(outcome.pixels, height, width, channels)),
          thumb: Buffer.from(greyThumbnail(outcome.pixels, height, width, channels)).toString('base64'),
          features: imageFeatures(outcome.pixels, height, width, channels, { width: outcome.source.width, height: outcome.source.height, bytes: size }),
        };
        pixels.push(outcome.pixels);
      });
      if (embedder) {
        const fresh = records.slice(start, start + batch.length).filter((r): r is DecodedRecord => r?.ok === true);
        const vectors = embedder.embed(fresh.map((r) => pixels[r.pixel] as Uint8Array), input.dataset.inputShape, input.dataset.scaling);
        fresh.forEach((r, k) => {
          r.embedding = Array.from(vectors.subarray(k * embedder.dims, (k + 1) * embedder.dims), storedNumber);
        });
      }
      ctx.heartbeat({ stage: `decode chunk ${input.chunk}`, done: Math.min(start + DECODE_BATCH, items.length), total: items.length });
    }

    const body = Buffer.alloc(decoded * imageBytes);
    pixels.forEach((p, k) => body.set(p, k * imageBytes));
    await store.put(keys.chunkPixels(input.chunk), body, { contentType: 'application/octet-stream' });
    const meta: ChunkMeta = {
      version: CHUNK_META_VERSION,
      chunk: input.chunk,
      shape: input.dataset.inputShape,
      decoded,
      records,
      seconds: (Date.now() - started) / 1000,
    };
    await store.put(metaKey, JSON.stringify(meta), { contentType: 'application/json' });
    return summarise(meta, false);
  };
}
