/**
 * Per-image test probabilities as saved by evaluation: a raw little-endian float32 file
 * (`count x numClasses`, row-major; `numpy.fromfile(f, '<f4').reshape(count, k)` reads it) and,
 * written after it, a JSON header beside it naming its shape, class names, true labels and
 * sha256. The header is what makes a later recomputation possible from the file's URI alone, and
 * what lets a half-written or mismatched file fail with a clear error instead of wrong metrics.
 */
import { createHash } from 'node:crypto';
import type { ArtifactStore } from '../storage/artifact-store.js';

export const PREDICTIONS_FORMAT = 'durable-vision/probabilities';

export interface PredictionsHeader {
  format: typeof PREDICTIONS_FORMAT;
  version: 1;
  dtype: 'float32';
  byteOrder: 'little-endian';
  count: number;
  numClasses: number;
  classes: string[];
  /** True class index per row. */
  labels: number[];
  /** Of the float32 file: must equal count * numClasses * 4. */
  byteLength: number;
  /** Hex sha256 of the float32 file. */
  sha256: string;
  /** The float32 file this header describes. */
  dataUri: string;
}

export interface SavedPredictions {
  probabilities: Float32Array;
  labels: Int32Array;
  classes: string[];
  header: PredictionsHeader;
  /** URIs of the float32 file and of its header. */
  uri: string;
  headerUri: string;
}

/** Key of the header beside a predictions file: `x.f32` -> `x.f32.json`. */
export function predictionsHeaderKey(dataKey: string): string {
  return `${dataKey}.json`;
}

/**
 * Writes the probabilities, then the header (so a header only exists for a whole file).
 * Throws when the shapes disagree.
 */
export async function savePredictions(
  store: ArtifactStore,
  key: string,
  probabilities: Float32Array,
  labels: ArrayLike<number>,
  classes: readonly string[],
): Promise<{ uri: string; headerUri: string }> {
  const numClasses = classes.length;
  if (numClasses < 1 || probabilities.length !== labels.length * numClasses) {
    throw new RangeError(`predictions to save hold ${probabilities.length} values, expected ${labels.length} labels x ${numClasses} classes = ${labels.length * numClasses}`);
  }
  const bytes = littleEndianFloat32(probabilities);
  const data = await store.put(key, bytes, { contentType: 'application/octet-stream' });
  const header: PredictionsHeader = {
    format: PREDICTIONS_FORMAT,
    version: 1,
    dtype: 'float32',
    byteOrder: 'little-endian',
    count: labels.length,
    numClasses,
    classes: [...classes],
    labels: Array.from(labels),
    byteLength: bytes.byteLength,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    dataUri: data.uri,
  };
  const head = await store.put(predictionsHeaderKey(key), JSON.stringify(header), { contentType: 'application/json' });
  return { uri: data.uri, headerUri: head.uri };
}

/**
 * Reads a predictions file (by its URI in `store`) with its header and checks one against the
 * other. Errors name the file, the field, the value found and the value expected.
 */
export async function loadPredictions(store: ArtifactStore, uri: string): Promise<SavedPredictions> {
  const key = store.keyOf(uri);
  const headerKey = predictionsHeaderKey(key);
  const headerUri = store.uriOf(headerKey);
  if (!(await store.exists(headerKey))) {
    throw new Error(`predictions ${uri}: header ${headerUri} is missing (the evaluation that wrote it did not finish, or the file predates headers); rerun the evaluation`);
  }
  const header = parseHeader(JSON.parse((await store.get(headerKey)).toString('utf8')) as unknown, headerUri);
  const bytes = await store.get(key);
  const bad = (field: string, found: unknown, expected: unknown) =>
    new Error(`predictions ${uri}: ${field} is ${JSON.stringify(found)}, but its header ${headerUri} says ${JSON.stringify(expected)} (a half-written or replaced file); rerun the evaluation`);
  if (bytes.byteLength !== header.byteLength) throw bad('byte length', bytes.byteLength, header.byteLength);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== header.sha256) throw bad('sha256', sha256, header.sha256);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const probabilities = new Float32Array(header.count * header.numClasses);
  for (let i = 0; i < probabilities.length; i++) probabilities[i] = view.getFloat32(i * 4, true);
  return { probabilities, labels: Int32Array.from(header.labels), classes: header.classes, header, uri, headerUri };
}

function parseHeader(raw: unknown, where: string): PredictionsHeader {
  const h = raw as Partial<PredictionsHeader> | null;
  const fail = (field: string, found: unknown, expected: string) =>
    new Error(`predictions header ${where}: ${field} is ${JSON.stringify(found)}, expected ${expected}`);
  if (h === null || typeof h !== 'object') throw fail('the document', raw, 'a JSON object');
  if (h.format !== PREDICTIONS_FORMAT) throw fail('format', h.format, JSON.stringify(PREDICTIONS_FORMAT));
  if (h.version !== 1) throw fail('version', h.version, '1');
  if (h.dtype !== 'float32') throw fail('dtype', h.dtype, '"float32"');
  if (!Number.isInteger(h.count) || (h.count as number) < 1) throw fail('count', h.count, 'an integer >= 1');
  if (!Array.isArray(h.classes) || h.classes.length < 2 || !h.classes.every((c) => typeof c === 'string')) throw fail('classes', h.classes, 'two or more class names');
  if (h.numClasses !== h.classes.length) throw fail('numClasses', h.numClasses, `${h.classes.length} (the number of classes listed)`);
  const count = h.count as number;
  if (!Array.isArray(h.labels) || h.labels.length !== count) throw fail('labels length', Array.isArray(h.labels) ? h.labels.length : h.labels, `${count} (count)`);
  const expectedBytes = count * h.numClasses * 4;
  if (h.byteLength !== expectedBytes) throw fail('byteLength', h.byteLength, `${expectedBytes} (count x numClasses x 4)`);
  if (typeof h.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(h.sha256)) throw fail('sha256', h.sha256, 'a hex sha256');
  return h as PredictionsHeader;
}

function littleEndianFloat32(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true);
  return out;
}
