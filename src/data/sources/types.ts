/**
 * What phase 1 knows about each input image before reading it: where it lives, which sources
 * listed it and what every annotator said it is.
 */

/** One annotator's label for one image. */
export interface Annotation {
  annotator: string;
  /** Class name. */
  label: string;
}

export interface SourceItem {
  /** Stable unique id: the image's full URI (`store.uriOf(key)`); sources listing the same URI merge. */
  id: string;
  /** Tag of the first source (in config order) that listed the image: its `tag`, else its URI as configured. */
  source: string;
  /** URI of the store root to open for reading, so a worker can `openStore(storeUri).get(key)`. */
  storeUri: string;
  /** Key of the image within that store. */
  key: string;
  /** From the store's listing; fingerprinting needs one of size and sha256. */
  size?: number;
  sha256?: string;
  /** One per annotator, sorted by annotator name; an annotator appears at most once. */
  annotations: Annotation[];
  /** CSV `group` column (e.g. a patient or session id), kept together when splitting. */
  group?: string;
  /** From an ImageFolder with `train/` and `test/` subfolders. */
  splitHint?: 'train' | 'test';
  channelOrder: 'rgb' | 'bgr';
}

export interface SourceRejection {
  /** The image's URI; for a path-traversal rejection, the path exactly as the manifest wrote it. */
  uri: string;
  source: string;
  reason: 'path-traversal' | 'unreadable';
  /** Names the manifest file, line and path, e.g. `listed in s3://b/labels.csv line 7 but not found at s3://b/x.png`. */
  detail: string;
}

export interface SourceSummary {
  tag: string;
  /** Absolute URI of the folder (ImageFolder) or of the CSV file. */
  uri: string;
  /** Images this source listed that exist (an image listed by two sources counts in both). */
  images: number;
  /** Files under an ImageFolder that are not images in class folders (hidden files, notes, stray files); 0 for CSV sources. */
  ignored: number;
}

export interface SourceListing {
  /** Sorted by id (UTF-8 byte order). */
  items: SourceItem[];
  /** One per distinct image URI (traversals: per source and path as written). */
  rejected: SourceRejection[];
  /** Union of every annotation label, sorted in code-point order. */
  classes: string[];
  sources: SourceSummary[];
  /**
   * Things worth a line in the data report that did not stop the listing: relabelled images
   * (an annotator labelling the same image twice differently: the later label wins), group
   * disagreements, ignored files. Capped per kind, with a count of the rest.
   */
  notes: string[];
}

/** Where in a manifest or source a problem was found. */
export interface SourceErrorWhere {
  file?: string;
  line?: number;
  field?: string;
  value?: string;
  expected?: string;
}

/**
 * A source or manifest that cannot be used as it is (bad header, missing label, unknown class,
 * an empty folder). Retrying cannot help: the input has to change.
 */
export class SourceError extends Error {
  override name = 'SourceError';
  readonly file: string | undefined;
  readonly line: number | undefined;
  readonly field: string | undefined;
  readonly value: string | undefined;
  readonly expected: string | undefined;

  /** `problem` is the message body; the location prefix and the expectation are added around it. */
  constructor(problem: string, where: SourceErrorWhere = {}) {
    const at = where.file === undefined ? '' : where.line === undefined ? `${where.file}: ` : `${where.file} line ${where.line}: `;
    const expected = where.expected === undefined ? '' : `; expected ${where.expected}`;
    super(`${at}${problem}${expected}`);
    this.file = where.file;
    this.line = where.line;
    this.field = where.field;
    this.value = where.value;
    this.expected = where.expected;
  }
}
