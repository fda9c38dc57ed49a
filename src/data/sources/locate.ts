import type { ArtifactStore } from '../../storage/artifact-store.js';
import { SourceError } from './types.js';

export type OpenStore = (uri: string) => ArtifactStore;

/** A file named by URI or path, as a key in the store of its folder. */
export interface LocatedFile {
  /** The store of the file's folder. */
  folder: ArtifactStore;
  key: string;
  /** Absolute URI of the file. */
  uri: string;
}

/**
 * Splits a file URI or path (`labels.csv`, `/data/labels.csv`, `file:///data/labels.csv`,
 * `s3://bucket/prefix/labels.csv`) into its folder's store and its key there.
 */
export function locateFile(uri: string, openStore: OpenStore, what: string): LocatedFile {
  if (uri.endsWith('/')) throw new SourceError(`${what} ${JSON.stringify(uri)} names a folder`, { expected: 'the URI or path of a file' });
  if (/^s3:\/\/[^/]*\/?$/i.test(uri)) throw new SourceError(`${what} ${JSON.stringify(uri)} names a bucket`, { expected: 's3://bucket/prefix/file.csv' });
  const slash = uri.lastIndexOf('/');
  let folderUri: string;
  if (slash < 0) folderUri = '.';
  else if (slash === 0) folderUri = '/';
  else {
    folderUri = uri.slice(0, slash);
    // `file:///labels.csv`: the folder is `file:///`, not `file://`.
    if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/*$/.test(folderUri)) folderUri = uri.slice(0, slash + 1);
  }
  const folder = openStore(folderUri);
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(uri)?.[1];
  // keyOf percent-decodes file: URIs; a plain path's last segment is the name itself.
  const key = scheme !== undefined && scheme.length > 1 ? folder.keyOf(uri) : uri.slice(slash + 1);
  return { folder, key, uri: folder.uriOf(key) };
}
