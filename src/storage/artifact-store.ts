import type { Readable } from 'node:stream';

/** What the store knows about one finished artifact. */
export interface ArtifactInfo {
  /** Absolute URI (`file:///abs/path/key` or `s3://bucket/prefix/key`). */
  uri: string;
  /** Key relative to the store's base. */
  key: string;
  size: number;
  /** Hex sha256 of the content, recorded when the artifact was written. */
  sha256: string;
}

export interface PutOptions {
  contentType?: string;
}

/**
 * One contract for every place artifacts live. Writes are atomic: a reader sees either
 * nothing or the whole artifact, never a partial one, whatever happens to the writer.
 * Keys are `/`-separated relative paths with the same rules in every store (see
 * `artifact-key.ts`); segments starting with `.dv-` are reserved for the stores' bookkeeping.
 */
export interface ArtifactStore {
  /** The store's base URI, e.g. `file:///repo/.data/artifacts` or `s3://bucket/prefix`. */
  readonly baseUri: string;
  /**
   * Absolute URI of a key, or of a key prefix naming a folder (`runs/r1/`, or `''` for the base),
   * so messages can point at folders too. Throws `InvalidArtifactKeyError` for a bad key.
   */
  uriOf(key: string): string;
  /** Key (or folder prefix) of an absolute URI inside this store; throws for any other URI. */
  keyOf(uri: string): string;
  /** Writes atomically and records sha256. Bodies may be buffers, strings or streams. */
  put(key: string, body: Uint8Array | string | Readable, options?: PutOptions): Promise<ArtifactInfo>;
  /** Whole content. Throws `ArtifactNotFoundError` when absent. */
  get(key: string): Promise<Buffer>;
  /** Streaming read. Throws `ArtifactNotFoundError` when absent. */
  getStream(key: string): Promise<Readable>;
  exists(key: string): Promise<boolean>;
  /** Info for a finished artifact, or undefined when absent. */
  stat(key: string): Promise<ArtifactInfo | undefined>;
  /**
   * Finished artifacts whose key starts with `prefix` (`''` for all), sorted by key (UTF-8 byte
   * order). On S3 this costs one HEAD per artifact, since listings carry no sha256.
   */
  list(prefix: string): Promise<ArtifactInfo[]>;
  /** Removes the artifact; a missing key is not an error. */
  delete(key: string): Promise<void>;
}

export class ArtifactNotFoundError extends Error {
  constructor(readonly uri: string) {
    super(`artifact not found: ${uri}`);
    this.name = 'ArtifactNotFoundError';
  }
}
