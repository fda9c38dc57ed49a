/**
 * CSV label manifests: a header naming `path` and `label`, optionally `annotator` and `group`,
 * in any order, then one row per (image, annotator). Paths resolve against a root folder (the
 * CSV's own folder unless configured) and may not leave it.
 */
import { ArtifactNotFoundError, type ArtifactStore } from '../../storage/artifact-store.js';
import { decodeUtf8, parseCsv } from './csv.js';
import { locateFile, type OpenStore } from './locate.js';
import { resolveManifestPath } from './manifest-path.js';
import { SourceError } from './types.js';

export const MANIFEST_COLUMNS = ['path', 'label', 'annotator', 'group'] as const;
export type ManifestColumn = (typeof MANIFEST_COLUMNS)[number];
const REQUIRED: readonly ManifestColumn[] = ['path', 'label'];
const HEADER_HINT = 'a header row naming path and label, optionally annotator and group, in any order (e.g. path,label,annotator)';

/** A row whose path resolved to a key inside the root. */
export interface ManifestRow {
  line: number;
  /** The path cell as written (trimmed). */
  path: string;
  key: string;
  label: string;
  /** Absent when the manifest has no annotator column or the cell is empty. */
  annotator?: string;
  group?: string;
}

/** A row whose path could not be resolved; the rest of the manifest is still usable. */
export interface ManifestRejectedRow {
  line: number;
  path: string;
  label: string;
  annotator?: string;
  group?: string;
  reason: 'path-traversal' | 'unreadable';
  why: string;
}

export interface ParsedManifest {
  columns: ManifestColumn[];
  rows: ManifestRow[];
  rejected: ManifestRejectedRow[];
}

export interface CsvManifest extends ParsedManifest {
  /** Absolute URI of the CSV file. */
  file: string;
  /** The store the paths resolve in. */
  root: ArtifactStore;
}

function hasControl(value: string): boolean {
  return /[\u0000-\u001f\u007f]/.test(value);
}

/**
 * Parses manifest text. Header names are matched case-insensitively. Fields are trimmed, so
 * `cat/1.png, cat` written by hand works. A missing or unknown header, a row with the wrong
 * number of fields, or an empty path or label is a {@link SourceError} naming `file line N`;
 * a path that escapes the root is a rejected row, not an error.
 */
export function parseCsvManifest(text: string, file: string, root: ArtifactStore): ParsedManifest {
  const records = parseCsv(text, file);
  const header = records[0];
  if (header === undefined) throw new SourceError('is empty', { file, expected: HEADER_HINT });
  const names = header.fields.map((f) => f.trim().toLowerCase());
  const unknown = names.filter((name) => !(MANIFEST_COLUMNS as readonly string[]).includes(name));
  const missing = REQUIRED.filter((name) => !names.includes(name));
  if (missing.length > 0 && unknown.length === names.length) {
    throw new SourceError(`has no header row (the first row is ${JSON.stringify(header.fields.join(','))})`, { file, line: header.line, expected: HEADER_HINT });
  }
  if (unknown.length > 0) {
    throw new SourceError(`unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => JSON.stringify(u)).join(', ')} in the header`, {
      file,
      line: header.line,
      field: 'header',
      value: unknown.join(','),
      expected: `only the columns ${MANIFEST_COLUMNS.join(', ')}`,
    });
  }
  if (missing.length > 0) {
    throw new SourceError(`the header lacks the column${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`, { file, line: header.line, field: 'header', expected: HEADER_HINT });
  }
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate !== undefined) {
    throw new SourceError(`the header names the column ${duplicate} twice`, { file, line: header.line, field: 'header', value: duplicate, expected: 'each column once' });
  }
  const columns = names as ManifestColumn[];
  const at = (name: ManifestColumn): number => columns.indexOf(name);
  const [pathAt, labelAt, annotatorAt, groupAt] = [at('path'), at('label'), at('annotator'), at('group')];

  const rows: ManifestRow[] = [];
  const rejected: ManifestRejectedRow[] = [];
  for (const record of records.slice(1)) {
    const { line, fields } = record;
    if (fields.length !== columns.length) {
      throw new SourceError(`has ${fields.length} field${fields.length === 1 ? '' : 's'}, the header has ${columns.length} (${columns.join(',')})`, {
        file,
        line,
        value: fields.join(','),
        expected: `${columns.length} comma-separated fields (quote a field that contains a comma: "a,b.png")`,
      });
    }
    const cell = (index: number): string => (index < 0 ? '' : (fields[index] ?? '').trim());
    const path = cell(pathAt);
    const label = cell(labelAt);
    const annotator = cell(annotatorAt);
    const group = cell(groupAt);
    if (path === '') throw new SourceError('the path is empty', { file, line, field: 'path', value: '', expected: 'the image path, relative to the root' });
    if (label === '') throw new SourceError(`the label of ${JSON.stringify(path)} is empty`, { file, line, field: 'label', value: '', expected: 'a class name' });
    for (const [field, value] of [['label', label], ['annotator', annotator], ['group', group]] as const) {
      if (hasControl(value)) throw new SourceError(`the ${field} ${JSON.stringify(value)} contains control characters`, { file, line, field, value, expected: 'printable text' });
    }
    const resolved = resolveManifestPath(path, root);
    const row: Omit<ManifestRow, 'key'> = { line, path, label };
    if (annotator !== '') row.annotator = annotator;
    if (group !== '') row.group = group;
    if (resolved.ok) rows.push({ ...row, key: resolved.key });
    else rejected.push({ ...row, reason: resolved.reason, why: resolved.why });
  }
  return { columns, rows, rejected };
}

/**
 * Reads and parses the manifest at `uri` (local path, file:// or s3://). `root` (same forms)
 * defaults to the CSV's own folder.
 */
export async function readCsvManifest(uri: string, root: string | undefined, openStore: OpenStore): Promise<CsvManifest> {
  const located = locateFile(uri, openStore, 'CSV manifest');
  let bytes: Buffer;
  try {
    bytes = await located.folder.get(located.key);
  } catch (error) {
    if (error instanceof ArtifactNotFoundError) throw new SourceError('does not exist', { file: located.uri, expected: 'a CSV manifest at that URI' });
    throw error;
  }
  const rootStore = root === undefined ? located.folder : openStore(root);
  const parsed = parseCsvManifest(decodeUtf8(bytes, located.uri), located.uri, rootStore);
  return { ...parsed, file: located.uri, root: rootStore };
}
