import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ArtifactStore } from './artifact-store.js';
import { FileArtifactStore } from './file-store.js';
import { S3ArtifactStore, type S3ArtifactStoreOptions } from './s3-store.js';

/** Where a store URI points, before anything is opened. */
export type StoreLocation = { kind: 'file'; dir: string } | { kind: 's3'; bucket: string; prefix: string };

export interface OpenStoreOptions {
  /** Base for relative paths. Defaults to `process.cwd()`. */
  cwd?: string;
  /** Connection settings for `s3://` stores; unset fields come from the AWS environment. */
  s3?: Omit<S3ArtifactStoreOptions, 'bucket' | 'prefix'>;
}

const EXPECTED = 'expected file:///abs/path, file://relative/path, s3://bucket[/prefix] or a plain folder path';

/**
 * Parses a store URI:
 * - `file:///abs/path` (also `file://localhost/...`): that folder;
 * - `file://rel/path` and `file:rel/path`: a folder relative to `cwd`, so the short
 *   `file://.data/artifacts` form means what people expect rather than a host named `.data`;
 * - a plain path (`./artifacts`, `/srv/artifacts`): that folder, relative ones against `cwd`;
 * - `s3://bucket/prefix`: that prefix of that bucket (prefix may be empty).
 */
export function parseStoreUri(uri: string, cwd: string = process.cwd()): StoreLocation {
  if (uri.trim() === '') throw new Error(`store URI must not be empty; ${EXPECTED}`);
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri)?.[1];
  // A one-letter "scheme" is a Windows drive (C:\data), i.e. a plain path.
  if (scheme === undefined || scheme.length === 1) return { kind: 'file', dir: path.resolve(cwd, uri) };
  switch (scheme.toLowerCase()) {
    case 'file':
      return { kind: 'file', dir: parseFileUri(uri, cwd) };
    case 's3':
      return parseS3Uri(uri);
    default:
      throw new Error(`unsupported store URI scheme "${scheme}:" in ${JSON.stringify(uri)}; ${EXPECTED}`);
  }
}

/** Opens the store a URI names; nothing is contacted or created until the first call. */
export function openStore(uri: string, options: OpenStoreOptions = {}): ArtifactStore {
  const location = parseStoreUri(uri, options.cwd);
  if (location.kind === 'file') return new FileArtifactStore(location.dir);
  return new S3ArtifactStore({ ...options.s3, bucket: location.bucket, prefix: location.prefix });
}

function parseFileUri(uri: string, cwd: string): string {
  const rest = uri.slice('file:'.length);
  if (rest.startsWith('///') || rest.toLowerCase().startsWith('//localhost/')) {
    try {
      return fileURLToPath(uri);
    } catch (error) {
      throw new Error(`invalid file store URI ${JSON.stringify(uri)}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const relative = rest.startsWith('//') ? rest.slice(2) : rest;
  if (relative === '') throw new Error(`file store URI ${JSON.stringify(uri)} names no folder; ${EXPECTED}`);
  return path.resolve(cwd, relative);
}

function parseS3Uri(uri: string): StoreLocation {
  const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/i.exec(uri);
  const bucket = match?.[1] ?? '';
  if (bucket === '') throw new Error(`S3 store URI ${JSON.stringify(uri)} names no bucket; expected s3://bucket[/prefix]`);
  const prefix = (match?.[2] ?? '').replace(/\/+$/, '');
  return { kind: 's3', bucket, prefix };
}
