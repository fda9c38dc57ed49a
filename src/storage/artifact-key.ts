/**
 * Key rules shared by every store, so a key that works in one store works in all of them and an
 * artifact can move between a laptop's file store and a cluster's S3 bucket unchanged.
 */

/**
 * Segments starting with this are the stores' own bookkeeping (temp files, sidecars, staged
 * uploads). Keys may not use it, so user artifacts and bookkeeping can never collide, and
 * listings skip it.
 */
export const RESERVED_SEGMENT_PREFIX = '.dv-';

/** S3's limit on object key length, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;

export class InvalidArtifactKeyError extends Error {
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`invalid artifact key ${JSON.stringify(key)}: ${reason}`);
    this.name = 'InvalidArtifactKeyError';
  }
}

/**
 * Throws `InvalidArtifactKeyError` unless `key` is a relative, `/`-separated path of non-empty
 * segments with no `.`/`..`, backslashes, control characters or reserved segments.
 */
export function validateKey(key: string): string {
  if (typeof key !== 'string') throw new InvalidArtifactKeyError(String(key), `expected a string, got ${typeof key}`);
  if (key === '') throw new InvalidArtifactKeyError(key, 'must not be empty');
  if (key.endsWith('/')) throw new InvalidArtifactKeyError(key, "must not end with '/' (that names a folder, not an artifact)");
  checkSegments(key, key.split('/'));
  return key;
}

/**
 * Like {@link validateKey} but also accepts `''` (everything) and a trailing `/` (a folder).
 * A prefix need not end on a segment boundary: `runs/r1/epoch-` matches `runs/r1/epoch-0001`.
 */
export function validatePrefix(prefix: string): string {
  if (typeof prefix !== 'string') throw new InvalidArtifactKeyError(String(prefix), `expected a string prefix, got ${typeof prefix}`);
  if (prefix === '') return prefix;
  const segments = prefix.split('/');
  if (prefix.endsWith('/')) segments.pop();
  checkSegments(prefix, segments);
  return prefix;
}

function checkSegments(key: string, segments: string[]): void {
  if (key.startsWith('/')) throw new InvalidArtifactKeyError(key, "must be relative (no leading '/')");
  if (key.includes('\\')) throw new InvalidArtifactKeyError(key, "must use '/' as separator, not '\\'");
  if (/[\u0000-\u001f\u007f]/.test(key)) throw new InvalidArtifactKeyError(key, 'must not contain control characters');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) throw new InvalidArtifactKeyError(key, `must be at most ${MAX_KEY_BYTES} UTF-8 bytes`);
  for (const segment of segments) {
    if (segment === '') throw new InvalidArtifactKeyError(key, "must not contain empty segments ('//')");
    if (segment === '.' || segment === '..') throw new InvalidArtifactKeyError(key, `must not contain '${segment}' segments`);
    if (segment.startsWith(RESERVED_SEGMENT_PREFIX)) {
      throw new InvalidArtifactKeyError(key, `segments starting with '${RESERVED_SEGMENT_PREFIX}' are reserved for the store's own files`);
    }
  }
}

/** True when some segment of `key` is store bookkeeping that listings must not show. */
export function isReservedKey(key: string): boolean {
  return key.split('/').some((segment) => segment.startsWith(RESERVED_SEGMENT_PREFIX));
}

/** Orders keys by their UTF-8 bytes, the order S3 lists in, so every store sorts alike. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
