/**
 * A small in-memory ArtifactStore for data tests: the real contract (sha256 recorded at put,
 * sorted list, not-found errors) without a file system. It also counts writes, so tests can
 * assert that an idempotent step wrote nothing.
 */
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ArtifactNotFoundError, type ArtifactInfo, type ArtifactStore } from '../../../src/storage/artifact-store.js';

async function toBuffer(body: Uint8Array | string | Readable): Promise<Buffer> {
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

export class MemoryArtifactStore implements ArtifactStore {
  readonly baseUri: string;
  /** Number of `put` calls so far. */
  puts = 0;
  private readonly objects = new Map<string, { body: Buffer; sha256: string }>();

  constructor(baseUri = 'mem://test') {
    this.baseUri = baseUri;
  }

  uriOf(key: string): string {
    return `${this.baseUri}/${key}`;
  }

  keyOf(uri: string): string {
    const head = `${this.baseUri}/`;
    if (!uri.startsWith(head)) throw new Error(`URI ${uri} is outside store ${this.baseUri}`);
    return uri.slice(head.length);
  }

  private info(key: string, entry: { body: Buffer; sha256: string }): ArtifactInfo {
    return { uri: this.uriOf(key), key, size: entry.body.length, sha256: entry.sha256 };
  }

  async put(key: string, body: Uint8Array | string | Readable): Promise<ArtifactInfo> {
    const bytes = await toBuffer(body);
    const entry = { body: bytes, sha256: createHash('sha256').update(bytes).digest('hex') };
    this.objects.set(key, entry);
    this.puts++;
    return this.info(key, entry);
  }

  async get(key: string): Promise<Buffer> {
    const entry = this.objects.get(key);
    if (!entry) throw new ArtifactNotFoundError(this.uriOf(key));
    return Buffer.from(entry.body);
  }

  async getStream(key: string): Promise<Readable> {
    return Readable.from([await this.get(key)]);
  }

  async exists(key: string): Promise<boolean> {
    return this.objects.has(key);
  }

  async stat(key: string): Promise<ArtifactInfo | undefined> {
    const entry = this.objects.get(key);
    return entry ? this.info(key, entry) : undefined;
  }

  async list(prefix: string): Promise<ArtifactInfo[]> {
    return [...this.objects.entries()]
      .filter(([key]) => key.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([key, entry]) => this.info(key, entry));
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }

  /** Replaces stored bytes without updating the recorded sha256, as on-disk damage would. */
  corrupt(key: string, body: Uint8Array): void {
    const entry = this.objects.get(key);
    if (!entry) throw new Error(`corrupt: no artifact ${key}`);
    entry.body = Buffer.from(body);
  }
}
