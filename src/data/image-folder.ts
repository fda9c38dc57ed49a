/**
 * The ImageFolder layout (`root/<class>/<image>`), the shape most users' datasets already have:
 * writing an in-memory dataset out as one (so the default MNIST run ingests files exactly as a
 * user's run would) and listing any such folder in a store.
 */
import { createHash } from 'node:crypto';
import { encode } from 'fast-png';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { forEachBounded } from './bounded.js';

export interface MaterialiseSource {
  split: 'train' | 'test';
  /** Grey uint8 images, row-major: `count * rows * cols` bytes. */
  images: { count: number; rows: number; cols: number; pixels: Uint8Array };
  /** Class index per image. */
  labels: ArrayLike<number>;
  /** Folder name per class index. */
  classNames: readonly string[];
  /** Write only the first `limit` images. Defaults to all. */
  limit?: number;
}

export interface MaterialiseProgress {
  done: number;
  total: number;
  written: number;
  skipped: number;
}

export interface MaterialiseResult extends MaterialiseProgress {
  /** Key of the split's folder, `<prefix>/<split>`. */
  root: string;
}

export interface ImageFolderItem {
  key: string;
  label: number;
  className: string;
  size: number;
  sha256: string;
}

export interface ImageFolderListing {
  items: ImageFolderItem[];
  /** Class names in code-point order (Python's `sorted`, so torchvision's ImageFolder agrees); label = index. */
  classes: string[];
}

/** Extensions sharp decodes; anything else in a class folder (notes, CSVs) is not an image. */
export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.webp', '.gif', '.tif', '.tiff', '.avif', '.heic', '.heif', '.hif'];

/** PNG deflate level, pinned so re-runs produce identical bytes and skip every file. */
const PNG_LEVEL = 3;
const PUT_CONCURRENCY = 16;
const PROGRESS_EVERY = 1000;

function trimSlashes(prefix: string): string {
  return prefix.replace(/^\/+|\/+$/g, '');
}

function folderPrefix(prefix: string): string {
  const root = trimSlashes(prefix);
  return root === '' ? '' : `${root}/`;
}

function validClassName(name: string): boolean {
  return name !== '' && !name.includes('/') && !name.startsWith('.');
}

/**
 * Writes `prefix/<split>/<class>/<split>-<index>.png` for each image. Resumable: files already
 * present with the same sha256 are skipped, found with one `list` rather than a call per file,
 * so a re-run after a crash writes only what is missing.
 */
export async function materialiseImageFolder(
  store: ArtifactStore,
  prefix: string,
  source: MaterialiseSource,
  onProgress?: (progress: MaterialiseProgress) => void,
): Promise<MaterialiseResult> {
  const { split, images, labels, classNames } = source;
  if (split !== 'train' && split !== 'test') throw new RangeError(`materialise split must be 'train' or 'test', got ${String(split)}`);
  const bad = classNames.find((name) => !validClassName(name));
  if (classNames.length === 0 || bad !== undefined) {
    throw new RangeError(`materialise classNames must be non-empty folder names without '/' or a leading '.', got ${JSON.stringify(bad ?? classNames)}`);
  }
  const pixelsPerImage = images.rows * images.cols;
  if (images.pixels.length < images.count * pixelsPerImage) {
    throw new RangeError(`materialise images: ${images.count} of ${images.rows}x${images.cols} need ${images.count * pixelsPerImage} bytes, got ${images.pixels.length}`);
  }
  if (labels.length < images.count) throw new RangeError(`materialise labels: need ${images.count}, got ${labels.length}`);
  const limit = source.limit ?? images.count;
  if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`materialise limit must be an integer >= 0, got ${String(limit)}`);
  const total = Math.min(limit, images.count);

  const root = `${folderPrefix(prefix)}${split}`;
  const existing = new Map((await store.list(`${root}/`)).map((info) => [info.key, info.sha256]));
  const progress: MaterialiseProgress = { done: 0, total, written: 0, skipped: 0 };

  await forEachBounded(total, PUT_CONCURRENCY, async (i) => {
    const label = labels[i] as number;
    const className = classNames[label];
    if (className === undefined) {
      throw new RangeError(`materialise ${split} image ${i}: label ${label} has no class name (${classNames.length} classes)`);
    }
    const data = images.pixels.subarray(i * pixelsPerImage, (i + 1) * pixelsPerImage);
    const png = encode({ width: images.cols, height: images.rows, channels: 1, depth: 8, data }, { zlib: { level: PNG_LEVEL } });
    const key = `${root}/${className}/${split}-${i}.png`;
    if (existing.get(key) === createHash('sha256').update(png).digest('hex')) {
      progress.skipped++;
    } else {
      await store.put(key, png, { contentType: 'image/png' });
      progress.written++;
    }
    progress.done++;
    if (onProgress && (progress.done % PROGRESS_EVERY === 0 || progress.done === total)) onProgress({ ...progress });
  });
  return { root, ...progress };
}

/** Code-point order; JS's default compares UTF-16 units, which differs for astral characters. */
export function byCodePoint(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** True when some segment of a key is hidden (`.DS_Store`, `.cache/`). */
export function isHidden(parts: readonly string[]): boolean {
  return parts.some((part) => part.startsWith('.'));
}

/** True for a file name with one of {@link IMAGE_EXTENSIONS} (any case). */
export function isImage(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot > 0 && IMAGE_EXTENSIONS.includes(name.slice(dot).toLowerCase());
}

/**
 * Lists `prefix/<class>/<image>` (images may sit in subfolders of a class folder). Hidden files
 * and folders, files outside class folders and non-image files are ignored. Items come sorted
 * by key; labels index the sorted class names.
 */
export async function listImageFolder(store: ArtifactStore, prefix: string): Promise<ImageFolderListing> {
  const listPrefix = folderPrefix(prefix);
  const where = store.uriOf(listPrefix);
  const infos = await store.list(listPrefix);
  if (infos.length === 0) {
    throw new Error(`image folder ${where} is empty: expected <class>/<image> files such as ${where}cat/0001.jpg`);
  }
  const found: { info: (typeof infos)[number]; className: string }[] = [];
  for (const info of infos) {
    const parts = info.key.slice(listPrefix.length).split('/');
    const className = parts[0];
    if (parts.length < 2 || className === undefined || isHidden(parts) || !isImage(parts[parts.length - 1] ?? '')) continue;
    found.push({ info, className });
  }
  if (found.length === 0) {
    throw new Error(
      `image folder ${where} has ${infos.length} files but no images in class folders: expected <class>/<image> with extensions ${IMAGE_EXTENSIONS.join(' ')}`,
    );
  }
  const classes = [...new Set(found.map((f) => f.className))].sort(byCodePoint);
  const labelOf = new Map(classes.map((name, index) => [name, index]));
  const items = found.map(({ info, className }) => ({
    key: info.key,
    label: labelOf.get(className) ?? -1,
    className,
    size: info.size,
    sha256: info.sha256,
  }));
  return { items, classes };
}
