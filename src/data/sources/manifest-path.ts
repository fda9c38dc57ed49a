/**
 * Turning a manifest's `path` cell into a key inside the manifest's root, refusing anything that
 * would read outside it. A manifest is user input; a path that escapes the root (`../../etc/passwd`,
 * `/etc/passwd`, `s3://other-bucket/x`, `..\..\x`, `%2e%2e/x`, a NUL byte) is never read.
 */
import { pathToFileURL } from 'node:url';
import type { ArtifactStore } from '../../storage/artifact-store.js';
import { validateKey } from '../../storage/artifact-key.js';

export type ManifestPath =
  | { ok: true; key: string }
  | { ok: false; reason: 'path-traversal' | 'unreadable'; why: string };

const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;
const WINDOWS_DRIVE = /^[a-zA-Z]:([\\/]|$)/;

function traversal(why: string): ManifestPath {
  return { ok: false, reason: 'path-traversal', why };
}

function unreadable(why: string): ManifestPath {
  return { ok: false, reason: 'unreadable', why };
}

/** A key the stores accept, or why not (reserved `.dv-` segments, control characters, length). */
function checkedKey(key: string, raw: string): ManifestPath {
  if (key === '' || key.endsWith('/')) return unreadable(`${JSON.stringify(raw)} names a folder, not a file`);
  try {
    return { ok: true, key: validateKey(key) };
  } catch (error) {
    return unreadable(`${JSON.stringify(raw)} is not a readable file name: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Inside-the-root URIs and absolute paths are accepted; the store decides what "inside" means. */
function keyInside(root: ArtifactStore, uri: string, raw: string, what: string): ManifestPath {
  let key: string;
  try {
    key = root.keyOf(uri);
  } catch {
    return traversal(`${what} ${JSON.stringify(raw)} points outside the root ${root.baseUri}`);
  }
  return checkedKey(key, raw);
}

/**
 * Resolves `raw` against `root`:
 * - relative paths (`cat/1.png`, `./a/../b.png`) resolve inside the root; backslashes count as
 *   separators, so Windows-written manifests work and `..\` is caught like `../`;
 * - `..` that climbs above the root, percent-encoded dot segments (`%2e%2e`, `..%2f`), NUL bytes
 *   and Windows drive paths are path traversal;
 * - absolute paths and URIs (`/data/x.png`, `file:///data/x.png`, `s3://bucket/prefix/x.png`)
 *   are accepted when they lie inside the root and are path traversal otherwise;
 * - a path naming a folder, or a name the stores cannot hold, is unreadable.
 */
export function resolveManifestPath(raw: string, root: ArtifactStore): ManifestPath {
  if (raw.includes('\u0000')) return traversal(`${JSON.stringify(raw)} contains a NUL byte`);
  const decoded = raw.replace(/%(2e|2f|5c)/gi, (m) => String.fromCharCode(parseInt(m.slice(1), 16)));
  if (decoded !== raw && decoded.split(/[\\/]/).some((segment) => segment === '.' || segment === '..')) {
    return traversal(`${JSON.stringify(raw)} hides a dot segment in percent-encoding (it decodes to ${JSON.stringify(decoded)})`);
  }
  if (WINDOWS_DRIVE.test(raw)) return traversal(`${JSON.stringify(raw)} is an absolute Windows path`);
  const scheme = SCHEME.exec(raw)?.[1];
  if (scheme !== undefined) return keyInside(root, raw, raw, `the ${scheme}: URI`);
  const path = raw.replace(/\\/g, '/');
  if (path.startsWith('//')) return traversal(`${JSON.stringify(raw)} is a network path`);
  if (path.startsWith('/')) return keyInside(root, pathToFileURL(path).href, raw, 'the absolute path');

  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.pop() === undefined) return traversal(`${JSON.stringify(raw)} climbs above the root ${root.baseUri} with ..`);
      continue;
    }
    segments.push(segment);
  }
  return checkedKey(path.endsWith('/') ? `${segments.join('/')}/` : segments.join('/'), raw);
}
