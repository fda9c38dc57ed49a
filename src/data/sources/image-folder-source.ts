/**
 * ImageFolder sources: `root/<class>/<image>`, or `root/train/<class>/<image>` beside
 * `root/test/<class>/<image>` for datasets that come with their own test split.
 */
import type { ArtifactInfo, ArtifactStore } from '../../storage/artifact-store.js';
import { IMAGE_EXTENSIONS, isHidden, isImage } from '../image-folder.js';
import { SourceError } from './types.js';

export interface FolderImage {
  info: ArtifactInfo;
  className: string;
  splitHint?: 'train' | 'test';
}

export interface FolderListing {
  images: FolderImage[];
  layout: 'flat' | 'train-test';
  /** Files that are not images in class folders: hidden files, other extensions, stray files. */
  ignored: number;
}

const SPLITS = ['train', 'test'] as const;

function splitOf(segment: string | undefined): 'train' | 'test' | undefined {
  return SPLITS.find((s) => s === segment);
}

/**
 * Lists every image of an ImageFolder store (one `list` of the whole store, through `list` when given). The layout is
 * train/test when some image sits at `train/<class>/…` or `test/<class>/…`; then images
 * anywhere else at the top (say under `val/`) are an error rather than a silent class named
 * `val`. Images may sit in subfolders of a class folder; hidden files and non-images are ignored.
 */
export async function listFolderImages(store: ArtifactStore, list: (prefix: string) => Promise<ArtifactInfo[]> = (prefix) => store.list(prefix)): Promise<FolderListing> {
  const where = store.uriOf('');
  const infos = await list('');
  if (infos.length === 0) {
    throw new SourceError(`image folder ${where} is empty or does not exist`, { expected: `<class>/<image> files such as ${where}cat/0001.jpg, or train/<class>/<image> and test/<class>/<image>` });
  }
  let ignored = 0;
  const candidates: { info: ArtifactInfo; parts: string[] }[] = [];
  for (const info of infos) {
    const parts = info.key.split('/');
    if (isHidden(parts) || !isImage(parts[parts.length - 1] ?? '')) ignored++;
    else candidates.push({ info, parts });
  }
  const layout = candidates.some(({ parts }) => parts.length >= 3 && splitOf(parts[0]) !== undefined) ? 'train-test' : 'flat';
  const images: FolderImage[] = [];
  const strays = new Set<string>();
  for (const { info, parts } of candidates) {
    if (layout === 'flat') {
      const className = parts[0];
      if (parts.length < 2 || className === undefined) ignored++;
      else images.push({ info, className });
      continue;
    }
    const splitHint = splitOf(parts[0]);
    const className = parts[1];
    if (splitHint === undefined) {
      if (parts.length >= 2) strays.add(parts[0] ?? '');
      else ignored++;
    } else if (parts.length < 3 || className === undefined) {
      ignored++;
    } else {
      images.push({ info, className, splitHint });
    }
  }
  if (strays.size > 0) {
    const names = [...strays].sort();
    throw new SourceError(
      `image folder ${where} has train/ or test/ class folders but also images under ${names.map((n) => `${n}/`).join(', ')}`,
      { value: names.join(','), expected: `either <class>/<image> only, or train/<class>/<image> and test/<class>/<image> only (the pipeline holds out its own validation split from train/)` },
    );
  }
  if (images.length === 0) {
    throw new SourceError(`image folder ${where} has ${infos.length} files but no images in class folders`, {
      expected: `<class>/<image> with extensions ${IMAGE_EXTENSIONS.join(' ')}`,
    });
  }
  return { images, layout, ignored };
}
