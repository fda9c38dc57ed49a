/**
 * The shard format the engines train from (`dv-shards/1`): fixed-size binary records (int32 LE
 * label, then `h*w*c` uint8 pixels, HWC) in content-addressed files, plus a JSON index. A
 * retried writer finds its shards by content and skips them; a reader checks every shard's
 * length and sha256, so a damaged shard is an error, never silently wrong training data.
 */
import { createHash } from 'node:crypto';
import type { ImageBatchSource, PixelScaling } from '../ml/engine.js';
import type { ArtifactStore } from '../storage/artifact-store.js';

export const SHARD_FORMAT = 'dv-shards/1';

export interface ShardEntry {
  /** Store key, `<prefix>/<split>-<first 16 hex of sha256>.bin`. */
  key: string;
  uri: string;
  count: number;
  sha256: string;
  bytes: number;
}

export interface ShardIndex {
  format: typeof SHARD_FORMAT;
  split: string;
  count: number;
  /** [height, width, channels] */
  shape: [number, number, number];
  scaling: PixelScaling;
  classes: string[];
  /** Records per class index. */
  perClass: number[];
  /** 4 label bytes + height * width * channels pixel bytes. */
  recordBytes: number;
  shards: ShardEntry[];
}

export interface ShardSource extends ImageBatchSource {
  classes: string[];
  /** Name of the split, used in keys: letters, digits, '-' and '_'. */
  split: string;
}

export interface WriteShardsOptions {
  /** Defaults to 8192 (about 6.5 MB per shard at 28x28x1). */
  recordsPerShard?: number;
}

/** A shard or index whose bytes are not what its index (or format) says. */
export class ShardIntegrityError extends Error {
  constructor(
    readonly uri: string,
    detail: string,
  ) {
    super(`${uri}: ${detail}`);
    this.name = 'ShardIntegrityError';
  }
}

const SCALINGS: readonly PixelScaling[] = ['0-1', '-1-1'];

const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

function folder(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : `${trimmed}/`;
}

function isShape(value: unknown): value is [number, number, number] {
  return Array.isArray(value) && value.length === 3 && value.every((v) => Number.isInteger(v) && (v as number) >= 1);
}

function validateSource(data: ShardSource, recordsPerShard: number): void {
  if (!/^[A-Za-z0-9_-]+$/.test(data.split)) throw new RangeError(`shards split must match [A-Za-z0-9_-]+, got ${JSON.stringify(data.split)}`);
  if (!isShape(data.shape)) throw new RangeError(`shards shape must be 3 integers >= 1, got ${JSON.stringify(data.shape)}`);
  if (!SCALINGS.includes(data.scaling)) throw new RangeError(`shards scaling must be one of ${SCALINGS.join(', ')}, got ${String(data.scaling)}`);
  if (data.classes.length === 0) throw new RangeError('shards classes must not be empty');
  if (!Number.isInteger(data.count) || data.count < 0) throw new RangeError(`shards count must be an integer >= 0, got ${String(data.count)}`);
  if (!Number.isInteger(recordsPerShard) || recordsPerShard < 1) {
    throw new RangeError(`recordsPerShard must be an integer >= 1, got ${String(recordsPerShard)}`);
  }
  const [h, w, c] = data.shape;
  if (data.images.length !== data.count * h * w * c) {
    throw new RangeError(`shards images: ${data.count} of ${h}x${w}x${c} need ${data.count * h * w * c} bytes, got ${data.images.length}`);
  }
  if (data.labels.length !== data.count) throw new RangeError(`shards labels: need ${data.count}, got ${data.labels.length}`);
}

/**
 * Writes `data` as shards under `prefix` and the index at `<prefix>/<split>.index.json`.
 * Shards (and an index) already present with the same sha256 are not written again.
 */
export async function writeShards(
  store: ArtifactStore,
  prefix: string,
  data: ShardSource,
  options: WriteShardsOptions = {},
): Promise<{ index: ShardIndex; indexUri: string }> {
  const recordsPerShard = options.recordsPerShard ?? 8192;
  validateSource(data, recordsPerShard);
  const [h, w, c] = data.shape;
  const pixelBytes = h * w * c;
  const recordBytes = 4 + pixelBytes;
  const base = folder(prefix);
  const existing = new Map((await store.list(`${base}${data.split}`)).map((info) => [info.key, info.sha256]));
  const perClass = new Array<number>(data.classes.length).fill(0);
  const shards: ShardEntry[] = [];

  for (let start = 0; start < data.count; start += recordsPerShard) {
    const count = Math.min(recordsPerShard, data.count - start);
    const body = Buffer.alloc(count * recordBytes);
    for (let r = 0; r < count; r++) {
      const label = data.labels[start + r] as number;
      if (!Number.isInteger(label) || label < 0 || label >= data.classes.length) {
        throw new RangeError(`shards label of record ${start + r} must be in [0, ${data.classes.length}), got ${label}`);
      }
      perClass[label] = (perClass[label] ?? 0) + 1;
      body.writeInt32LE(label, r * recordBytes);
      body.set(data.images.subarray((start + r) * pixelBytes, (start + r + 1) * pixelBytes), r * recordBytes + 4);
    }
    const sha256 = sha256Hex(body);
    const key = `${base}${data.split}-${sha256.slice(0, 16)}.bin`;
    if (existing.get(key) !== sha256) await store.put(key, body, { contentType: 'application/octet-stream' });
    shards.push({ key, uri: store.uriOf(key), count, sha256, bytes: body.length });
  }

  const index: ShardIndex = {
    format: SHARD_FORMAT,
    split: data.split,
    count: data.count,
    shape: [h, w, c],
    scaling: data.scaling,
    classes: [...data.classes],
    perClass,
    recordBytes,
    shards,
  };
  const indexKey = `${base}${data.split}.index.json`;
  const indexBody = JSON.stringify(index, null, 2);
  if (existing.get(indexKey) !== sha256Hex(Buffer.from(indexBody, 'utf8'))) {
    await store.put(indexKey, indexBody, { contentType: 'application/json' });
  }
  return { index, indexUri: store.uriOf(indexKey) };
}

/** Reads and checks a shard index; errors name the index URI and the field that is wrong. */
export async function readShardIndex(store: ArtifactStore, indexUri: string): Promise<ShardIndex> {
  const text = (await store.get(store.keyOf(indexUri))).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ShardIntegrityError(indexUri, `shard index is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const index = parsed as Partial<ShardIndex> | null;
  const fail = (field: string, expected: string, value: unknown): never => {
    throw new ShardIntegrityError(indexUri, `shard index field ${field} must be ${expected}, got ${JSON.stringify(value)}`);
  };
  if (typeof index !== 'object' || index === null) return fail('(root)', 'an object', index);
  if (index.format !== SHARD_FORMAT) fail('format', JSON.stringify(SHARD_FORMAT), index.format);
  if (!isShape(index.shape)) fail('shape', '3 integers >= 1', index.shape);
  if (!SCALINGS.includes(index.scaling as PixelScaling)) fail('scaling', SCALINGS.join(' or '), index.scaling);
  if (!Array.isArray(index.classes) || index.classes.length === 0) fail('classes', 'a non-empty array', index.classes);
  if (!Number.isInteger(index.count) || (index.count as number) < 0) fail('count', 'an integer >= 0', index.count);
  if (!Array.isArray(index.shards)) fail('shards', 'an array', index.shards);
  const full = index as ShardIndex;
  const [h, w, c] = full.shape;
  if (full.recordBytes !== 4 + h * w * c) fail('recordBytes', String(4 + h * w * c), full.recordBytes);
  const total = full.shards.reduce((sum, s) => sum + (s?.count ?? 0), 0);
  if (total !== full.count) fail('count', `the sum of shard counts (${total})`, full.count);
  return full;
}

/**
 * Loads every shard of an index into memory after checking its byte length and sha256 against
 * the index. A truncated or altered shard throws `ShardIntegrityError` naming the shard's URI.
 */
export async function readShards(store: ArtifactStore, indexUri: string): Promise<ImageBatchSource> {
  const index = await readShardIndex(store, indexUri);
  const [h, w, c] = index.shape;
  const pixelBytes = h * w * c;
  const images = new Uint8Array(index.count * pixelBytes);
  const labels = new Int32Array(index.count);
  let offset = 0;
  for (const shard of index.shards) {
    const uri = store.uriOf(shard.key);
    const body = await store.get(shard.key);
    if (body.length !== shard.bytes || body.length !== shard.count * index.recordBytes) {
      throw new ShardIntegrityError(uri, `shard has ${body.length} bytes, index says ${shard.bytes} (${shard.count} records of ${index.recordBytes}): truncated or replaced`);
    }
    const actual = sha256Hex(body);
    if (actual !== shard.sha256) throw new ShardIntegrityError(uri, `shard sha256 is ${actual}, index says ${shard.sha256}: altered or damaged`);
    for (let r = 0; r < shard.count; r++) {
      const at = r * index.recordBytes;
      const label = body.readInt32LE(at);
      if (label < 0 || label >= index.classes.length) {
        throw new ShardIntegrityError(uri, `record ${r} has label ${label}, expected [0, ${index.classes.length})`);
      }
      labels[offset + r] = label;
      images.set(body.subarray(at + 4, at + 4 + pixelBytes), (offset + r) * pixelBytes);
    }
    offset += shard.count;
  }
  return { images, labels, count: index.count, shape: [h, w, c], scaling: index.scaling };
}
