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

export interface ShardMeta {
  split: string;
  shape: [number, number, number];
  scaling: PixelScaling;
  classes: string[];
}

/**
 * Writes records as they come, one shard at a time, so a split of any size is written with
 * one shard's worth of memory. `finish` writes the index last: a reader never finds an index
 * whose shards are not all in place. Shards (and an index) already present with the same
 * sha256 are not written again, so a retried writer redoes no uploads.
 */
export class ShardWriter {
  private readonly pixelBytes: number;
  private readonly recordBytes: number;
  private readonly base: string;
  private readonly perClass: number[];
  private readonly shards: ShardEntry[] = [];
  private body: Buffer;
  private filled = 0;
  private count = 0;
  private finished = false;

  private constructor(
    private readonly store: ArtifactStore,
    prefix: string,
    private readonly meta: ShardMeta,
    private readonly recordsPerShard: number,
    private readonly existing: Map<string, string | undefined>,
  ) {
    const [h, w, c] = meta.shape;
    this.pixelBytes = h * w * c;
    this.recordBytes = 4 + this.pixelBytes;
    this.base = folder(prefix);
    this.perClass = new Array<number>(meta.classes.length).fill(0);
    this.body = Buffer.alloc(recordsPerShard * this.recordBytes);
  }

  static async open(store: ArtifactStore, prefix: string, meta: ShardMeta, options: WriteShardsOptions = {}): Promise<ShardWriter> {
    const recordsPerShard = options.recordsPerShard ?? 8192;
    validateSource({ ...meta, images: new Uint8Array(0), labels: new Int32Array(0), count: 0 }, recordsPerShard);
    const existing = new Map((await store.list(`${folder(prefix)}${meta.split}`)).map((info) => [info.key, info.sha256]));
    return new ShardWriter(store, prefix, meta, recordsPerShard, existing);
  }

  /** Appends `count` records: `images` holds their pixels back to back (HWC uint8). */
  async add(images: Uint8Array, labels: ArrayLike<number>, count = labels.length): Promise<void> {
    if (this.finished) throw new Error(`shard writer for ${this.meta.split} is finished`);
    if (images.length < count * this.pixelBytes) {
      throw new RangeError(`shards images: ${count} records need ${count * this.pixelBytes} bytes, got ${images.length}`);
    }
    for (let r = 0; r < count; r++) {
      const label = labels[r] as number;
      if (!Number.isInteger(label) || label < 0 || label >= this.meta.classes.length) {
        throw new RangeError(`shards label of record ${this.count + r} must be in [0, ${this.meta.classes.length}), got ${label}`);
      }
      this.perClass[label] = (this.perClass[label] ?? 0) + 1;
      const at = this.filled * this.recordBytes;
      this.body.writeInt32LE(label, at);
      this.body.set(images.subarray(r * this.pixelBytes, (r + 1) * this.pixelBytes), at + 4);
      this.filled++;
      if (this.filled === this.recordsPerShard) await this.flush();
    }
    this.count += count;
  }

  private async flush(): Promise<void> {
    if (this.filled === 0) return;
    const body = this.filled === this.recordsPerShard ? this.body : this.body.subarray(0, this.filled * this.recordBytes);
    const sha256 = sha256Hex(body);
    const key = `${this.base}${this.meta.split}-${sha256.slice(0, 16)}.bin`;
    if (this.existing.get(key) !== sha256) await this.store.put(key, body, { contentType: 'application/octet-stream' });
    this.shards.push({ key, uri: this.store.uriOf(key), count: this.filled, sha256, bytes: body.length });
    this.filled = 0;
    // The store may still hold the old buffer (streams): never overwrite it in place.
    this.body = Buffer.alloc(this.recordsPerShard * this.recordBytes);
  }

  /** Writes the last partial shard and then the index. */
  async finish(): Promise<{ index: ShardIndex; indexUri: string }> {
    await this.flush();
    this.finished = true;
    const [h, w, c] = this.meta.shape;
    const index: ShardIndex = {
      format: SHARD_FORMAT,
      split: this.meta.split,
      count: this.count,
      shape: [h, w, c],
      scaling: this.meta.scaling,
      classes: [...this.meta.classes],
      perClass: this.perClass,
      recordBytes: this.recordBytes,
      shards: this.shards,
    };
    const indexKey = `${this.base}${this.meta.split}.index.json`;
    const indexBody = JSON.stringify(index, null, 2);
    if (this.existing.get(indexKey) !== sha256Hex(Buffer.from(indexBody, 'utf8'))) {
      await this.store.put(indexKey, indexBody, { contentType: 'application/json' });
    }
    return { index, indexUri: this.store.uriOf(indexKey) };
  }
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
  validateSource(data, options.recordsPerShard ?? 8192);
  const writer = await ShardWriter.open(store, prefix, data, options);
  await writer.add(data.images, data.labels, data.count);
  return writer.finish();
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
