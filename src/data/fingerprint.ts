/**
 * Dataset fingerprints: a sha256 over what defines a prepared dataset (each source file's key,
 * content hash or size, and label, plus the preparation settings), so an unchanged dataset
 * prepared the same way yields the same fingerprint and its shards can be reused.
 */
import { createHash } from 'node:crypto';

export interface FingerprintItem {
  key: string;
  label: number;
  /** Content hash when the store records one; preferred over size. */
  sha256?: string;
  size?: number;
}

/** JSON with object keys sorted, so settings written in another order hash the same. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * Hex sha256 over the items sorted by key (listing order does not matter) and `settings`.
 * Throws if an item has neither sha256 nor size, since the fingerprint would then miss content
 * changes.
 */
export function datasetFingerprint(items: readonly FingerprintItem[], settings: unknown = {}): string {
  const sorted = [...items].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const hash = createHash('sha256');
  hash.update(`dv-fingerprint/1\n${canonicalJson(settings)}\n`);
  for (const item of sorted) {
    let content: string;
    if (item.sha256) content = `sha256:${item.sha256}`;
    else if (item.size !== undefined) content = `size:${item.size}`;
    else throw new RangeError(`fingerprint item ${item.key} needs sha256 or size`);
    // Tabs and newlines separate fields; JSON-quoting the key keeps odd names unambiguous.
    hash.update(`${JSON.stringify(item.key)}\t${content}\t${item.label}\n`);
  }
  return hash.digest('hex');
}
