/**
 * Label quality for multiply-annotated images: how often annotators disagree (overall, per class,
 * and which classes get confused with which), how each image's label is settled, and the
 * arbitration file a person fills in when disagreement is too high.
 */
import type { LabelQaSummary } from '../core/manifests.js';
import { byCodePoint } from './image-folder.js';
import { csvLine, decodeUtf8, parseCsv } from './sources/csv.js';
import { readCsvManifest } from './sources/csv-manifest.js';
import type { OpenStore } from './sources/locate.js';
import { SourceError, type Annotation, type SourceItem } from './sources/types.js';

type Annotated = Pick<SourceItem, 'id' | 'annotations'>;

export interface LabelQaClass {
  className: string;
  /** Multiply-annotated images at least one annotator gave this class. */
  annotated: number;
  /** Of those, images whose annotators disagree. */
  conflicted: number;
  /** conflicted / annotated, 0 when none. */
  rate: number;
}

export interface LabelQaAnalysis {
  /** Images with annotations from two or more annotators. */
  multiplyAnnotated: number;
  /** Ids of the multiply-annotated images whose labels are not all the same, in input order. */
  conflicted: string[];
  /** conflicted / multiplyAnnotated, 0 when none. */
  conflictRate: number;
  /** One per class, in `classes` order. */
  perClass: LabelQaClass[];
  /**
   * classes x classes, symmetric: for every image, every unordered pair of its annotations adds
   * 1 to matrix[a][b] and matrix[b][a] when they differ, or 1 to matrix[a][a] when they agree.
   */
  matrix: number[][];
}

function classIndex(classes: readonly string[]): (label: string, id: string) => number {
  const index = new Map(classes.map((name, i) => [name, i]));
  return (label, id) => {
    const i = index.get(label);
    if (i === undefined) throw new RangeError(`label ${JSON.stringify(label)} of ${id} is not among the ${classes.length} classes ${JSON.stringify(classes)}`);
    return i;
  };
}

function isConflicted(annotations: readonly Annotation[]): boolean {
  return annotations.some((a) => a.label !== annotations[0]?.label);
}

/**
 * Agreement among annotators. Only images with two or more annotations count. Per class, an
 * image counts once towards every distinct class any of its annotators gave it, so a cat/dog
 * disagreement counts as annotated and conflicted for both cat and dog. Throws RangeError for a
 * label outside `classes`.
 */
export function analyseLabels(items: readonly Annotated[], classes: readonly string[]): LabelQaAnalysis {
  const indexOf = classIndex(classes);
  const k = classes.length;
  const matrix = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const annotated = new Array<number>(k).fill(0);
  const conflictedPerClass = new Array<number>(k).fill(0);
  const conflicted: string[] = [];
  let multiplyAnnotated = 0;
  for (const item of items) {
    const labels = item.annotations.map((a) => indexOf(a.label, item.id));
    if (labels.length < 2) continue;
    multiplyAnnotated++;
    const conflict = isConflicted(item.annotations);
    if (conflict) conflicted.push(item.id);
    for (const c of new Set(labels)) {
      annotated[c] = (annotated[c] ?? 0) + 1;
      if (conflict) conflictedPerClass[c] = (conflictedPerClass[c] ?? 0) + 1;
    }
    for (let i = 0; i < labels.length; i++) {
      for (let j = i + 1; j < labels.length; j++) {
        const a = labels[i] as number;
        const b = labels[j] as number;
        const rowA = matrix[a] as number[];
        rowA[b] = (rowA[b] ?? 0) + 1;
        if (a !== b) {
          const rowB = matrix[b] as number[];
          rowB[a] = (rowB[a] ?? 0) + 1;
        }
      }
    }
  }
  const rate = (n: number, d: number): number => (d === 0 ? 0 : n / d);
  return {
    multiplyAnnotated,
    conflicted,
    conflictRate: rate(conflicted.length, multiplyAnnotated),
    perClass: classes.map((className, c) => {
      const a = annotated[c] ?? 0;
      const x = conflictedPerClass[c] ?? 0;
      return { className, annotated: a, conflicted: x, rate: rate(x, a) };
    }),
    matrix,
  };
}

/** The analysis in the report's shape (conflicted as a count). */
export function labelQaCounts(analysis: LabelQaAnalysis): Pick<LabelQaSummary, 'multiplyAnnotated' | 'conflicted' | 'conflictRate' | 'perClass' | 'matrix'> {
  return {
    multiplyAnnotated: analysis.multiplyAnnotated,
    conflicted: analysis.conflicted.length,
    conflictRate: analysis.conflictRate,
    perClass: analysis.perClass.map((c) => ({ ...c })),
    matrix: analysis.matrix.map((row) => [...row]),
  };
}

export type LabelRule = 'majority' | 'drop';

export interface LabelDecision {
  id: string;
  /** The resolved class; absent when dropped. */
  label?: string;
  dropped?: 'label-conflict';
  how: 'single' | 'agreed' | 'majority' | 'arbitrated' | 'tie' | 'rule-drop';
}

/**
 * Settles every item's label, in input order:
 * - an arbitration override for the item, when given, wins (whatever the annotators said);
 * - one annotation: that label; all annotations agree: that label;
 * - a conflict under 'majority': the label strictly more annotators gave than any other, else
 *   (a tie) dropped; under 'drop': dropped.
 */
export function resolveLabels(items: readonly Annotated[], rule: LabelRule, overrides?: ReadonlyMap<string, string>): LabelDecision[] {
  return items.map((item): LabelDecision => {
    const { id, annotations } = item;
    const override = overrides?.get(id);
    if (override !== undefined) return { id, label: override, how: 'arbitrated' };
    const first = annotations[0];
    if (first === undefined) throw new RangeError(`item ${id} has no annotations`);
    if (annotations.length === 1) return { id, label: first.label, how: 'single' };
    if (!isConflicted(annotations)) return { id, label: first.label, how: 'agreed' };
    if (rule === 'drop') return { id, dropped: 'label-conflict', how: 'rule-drop' };
    const votes = new Map<string, number>();
    for (const a of annotations) votes.set(a.label, (votes.get(a.label) ?? 0) + 1);
    const ranked = [...votes.entries()].sort((a, b) => b[1] - a[1]);
    const [top, second] = ranked;
    if (top !== undefined && (second === undefined || top[1] > second[1])) return { id, label: top[0], how: 'majority' };
    return { id, dropped: 'label-conflict', how: 'tie' };
  });
}

type ArbitrationItem = Pick<SourceItem, 'id' | 'key' | 'source' | 'annotations'>;

export const ARBITRATION_COLUMNS = ['id', 'path', 'source', 'labels', 'resolution'] as const;

/** `alice:cat; bob:dog`, annotators in code-point order. */
export function formatAnnotations(annotations: readonly Annotation[]): string {
  return [...annotations]
    .sort((a, b) => byCodePoint(a.annotator, b.annotator))
    .map((a) => `${a.annotator}:${a.label}`)
    .join('; ');
}

/**
 * The arbitration file: header `id,path,source,labels,resolution`, one row per conflicted image
 * (id = image URI, path = key in its source's root, labels like `alice:cat; bob:dog`) and an
 * empty resolution for a person to fill in with a class name. CRLF line ends, so spreadsheet
 * programs open it as they wrote it.
 */
export function arbitrationCsv(conflicted: readonly ArbitrationItem[]): string {
  const lines = [ARBITRATION_COLUMNS.join(',')];
  for (const item of conflicted) lines.push(csvLine([item.id, item.key, item.source, formatAnnotations(item.annotations), '']));
  return `${lines.join('\r\n')}\r\n`;
}

export interface ArbitrationJsonItem {
  id: string;
  path: string;
  source: string;
  annotations: Annotation[];
  /** A class name once decided. */
  resolution: string | null;
}

/** The same rows as {@link arbitrationCsv}, as JSON for tools: `{ items: [...] }`. */
export function arbitrationJson(conflicted: readonly ArbitrationItem[]): string {
  const items: ArbitrationJsonItem[] = conflicted.map((item) => ({
    id: item.id,
    path: item.key,
    source: item.source,
    annotations: [...item.annotations].sort((a, b) => byCodePoint(a.annotator, b.annotator)),
    resolution: null,
  }));
  return `${JSON.stringify({ items }, null, 2)}\n`;
}

function knownClasses(classes: readonly string[]): string {
  const shown = classes.slice(0, 50).map((c) => JSON.stringify(c));
  return `one of the classes ${shown.join(', ')}${classes.length > shown.length ? `, ... (${classes.length} in all)` : ''}`;
}

/**
 * Resolutions from a filled-in arbitration CSV (text or bytes): id → class. The header must
 * name `id` and `resolution`; other columns (path, source, labels, notes people add) are
 * ignored. Rows with an empty resolution are left out (those images fall back to the rule).
 * An id outside `conflictedIds`, a class outside `classes`, or one id resolved twice
 * differently is a {@link SourceError} naming the line.
 */
export function parseArbitrationCsv(text: string | Uint8Array, file: string, classes: readonly string[], conflictedIds: ReadonlySet<string>): Map<string, string> {
  const records = parseCsv(typeof text === 'string' ? text : decodeUtf8(text, file), file);
  const header = records[0];
  const expectedHeader = `the header ${ARBITRATION_COLUMNS.join(',')} (id and resolution are required)`;
  if (header === undefined) throw new SourceError('is empty', { file, expected: expectedHeader });
  const names = header.fields.map((f) => f.trim().toLowerCase());
  const idAt = names.indexOf('id');
  const resolutionAt = names.indexOf('resolution');
  if (idAt < 0 || resolutionAt < 0) {
    throw new SourceError(`the header ${JSON.stringify(header.fields.join(','))} lacks ${[idAt < 0 ? 'id' : '', resolutionAt < 0 ? 'resolution' : ''].filter(Boolean).join(' and ')}`, {
      file,
      line: header.line,
      field: 'header',
      expected: expectedHeader,
    });
  }
  const known = new Set(classes);
  const resolved = new Map<string, { label: string; line: number }>();
  for (const { line, fields } of records.slice(1)) {
    if (fields.length !== names.length) {
      throw new SourceError(`has ${fields.length} fields, the header has ${names.length}`, { file, line, value: fields.join(','), expected: `${names.length} comma-separated fields` });
    }
    const id = (fields[idAt] ?? '').trim();
    const resolution = (fields[resolutionAt] ?? '').trim();
    if (id === '') throw new SourceError('the id is empty', { file, line, field: 'id', value: '', expected: 'the image URI from the arbitration file' });
    if (!conflictedIds.has(id)) {
      throw new SourceError(`${JSON.stringify(id)} is not one of the ${conflictedIds.size} conflicted images`, { file, line, field: 'id', value: id, expected: 'an id from the arbitration file this run wrote' });
    }
    if (resolution === '') continue;
    if (!known.has(resolution)) {
      throw new SourceError(`resolution ${JSON.stringify(resolution)} for ${id} is not a known class`, { file, line, field: 'resolution', value: resolution, expected: knownClasses(classes) });
    }
    const earlier = resolved.get(id);
    if (earlier !== undefined && earlier.label !== resolution) {
      throw new SourceError(`${id} is resolved as ${JSON.stringify(earlier.label)} on line ${earlier.line} and as ${JSON.stringify(resolution)} here`, {
        file,
        line,
        field: 'resolution',
        value: resolution,
        expected: 'one resolution per image',
      });
    }
    resolved.set(id, { label: resolution, line });
  }
  return new Map([...resolved].map(([id, { label }]) => [id, label]));
}

export interface ThirdAnnotatorOptions {
  /** Where relative paths resolve; defaults to the manifest's own folder. */
  root?: string;
  /** Annotator name for rows without an annotator column/cell; defaults to the manifest's URI. */
  tag?: string;
}

export interface ThirdAnnotatorResult<T extends SourceItem> {
  /** All items, in input order; conflicted ones named in the manifest carry the extra annotation. */
  items: T[];
  /** Ids that received an annotation. */
  annotated: string[];
}

/**
 * Adds a further annotator's labels (a CSV manifest `path,label[,annotator]`, read with the
 * same parser as the sources) to the conflicted items, so a majority of three can decide. A
 * row's path names a conflicted image when it is that image's id (its URI), when it resolves
 * against the root to that id, or when it equals the key of exactly one conflicted image (the
 * arbitration file's `path` column). Anything else, a class outside `classes`, or a path the
 * manifest cannot resolve is a {@link SourceError} naming the line. An annotator already
 * present on an image has that annotation replaced.
 */
export async function addThirdAnnotations<T extends SourceItem>(
  items: readonly T[],
  manifestUri: string,
  classes: readonly string[],
  conflictedIds: ReadonlySet<string>,
  openStore: OpenStore,
  options: ThirdAnnotatorOptions = {},
): Promise<ThirdAnnotatorResult<T>> {
  const manifest = await readCsvManifest(manifestUri, options.root, openStore);
  const { file } = manifest;
  const tag = options.tag ?? file;
  const known = new Set(classes);
  const byKey = new Map<string, string[]>();
  for (const item of items) {
    if (!conflictedIds.has(item.id)) continue;
    byKey.set(item.key, [...(byKey.get(item.key) ?? []), item.id]);
  }
  const matchId = (path: string, resolvedKey: string | undefined): string | undefined => {
    if (conflictedIds.has(path)) return path;
    if (resolvedKey !== undefined) {
      const uri = manifest.root.uriOf(resolvedKey);
      if (conflictedIds.has(uri)) return uri;
      const sameKey = byKey.get(resolvedKey);
      if (sameKey?.length === 1) return sameKey[0];
    }
    return undefined;
  };
  const added = new Map<string, Annotation>();
  const rows = [...manifest.rows, ...manifest.rejected.map((r) => ({ ...r, key: undefined }))].sort((a, b) => a.line - b.line);
  for (const row of rows) {
    // A rejected row (say a URI outside the manifest's folder) can still name an image by its id.
    const id = matchId(row.path, row.key);
    if (id === undefined) {
      throw new SourceError(`${JSON.stringify(row.path)} is not one of the ${conflictedIds.size} conflicted images`, {
        file,
        line: row.line,
        field: 'path',
        value: row.path,
        expected: "a conflicted image's id or path from the arbitration file",
      });
    }
    if (!known.has(row.label)) {
      throw new SourceError(`label ${JSON.stringify(row.label)} for ${JSON.stringify(row.path)} is not a known class`, {
        file,
        line: row.line,
        field: 'label',
        value: row.label,
        expected: knownClasses(classes),
      });
    }
    const annotator = row.annotator ?? tag;
    added.set(`${id}\u0000${annotator}`, { annotator, label: row.label });
  }
  const annotated = new Set<string>();
  const extra = new Map<string, Annotation[]>();
  for (const [key, annotation] of added) {
    const id = key.slice(0, key.indexOf('\u0000'));
    annotated.add(id);
    extra.set(id, [...(extra.get(id) ?? []), annotation]);
  }
  const out = items.map((item) => {
    const more = extra.get(item.id);
    if (more === undefined) return item;
    const replaced = new Set(more.map((a) => a.annotator));
    const annotations = [...item.annotations.filter((a) => !replaced.has(a.annotator)), ...more].sort((a, b) => byCodePoint(a.annotator, b.annotator));
    return { ...item, annotations };
  });
  return { items: out, annotated: [...annotated].sort(byCodePoint) };
}
