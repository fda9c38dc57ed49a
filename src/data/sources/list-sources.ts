/**
 * Lists every image-folder and CSV source of a run and merges them into one set of items:
 * sources naming the same image URI contribute annotations to one item, which is how two
 * annotators' manifests over the same images combine.
 */
import type { SourceConfig } from '../../core/config.js';
import type { ArtifactInfo, ArtifactStore } from '../../storage/artifact-store.js';
import { compareKeys } from '../../storage/artifact-key.js';
import { byCodePoint } from '../image-folder.js';
import { readCsvManifest } from './csv-manifest.js';
import { listFolderImages } from './image-folder-source.js';
import type { OpenStore } from './locate.js';
import { SourceError, type Annotation, type SourceItem, type SourceListing, type SourceRejection, type SourceSummary } from './types.js';

export { SourceError, type Annotation, type SourceItem, type SourceListing, type SourceRejection, type SourceSummary } from './types.js';
export type { OpenStore } from './locate.js';

/** Notes of one kind kept in the listing before the rest are only counted. */
const NOTES_PER_KIND = 20;

type FileSource = Exclude<SourceConfig, { kind: 'mnist' }>;

/** One image as one source saw it, with one annotation. */
interface Entry {
  id: string;
  storeUri: string;
  key: string;
  info: ArtifactInfo;
  annotation: Annotation;
  /** Where the annotation came from, for notes: `file line 7` or the folder URI. */
  where: string;
  group?: string;
  splitHint?: 'train' | 'test';
}

interface Contribution {
  tag: string;
  channelOrder: 'rgb' | 'bgr';
  summary: SourceSummary;
  entries: Entry[];
  /** `dedupKey` merges the same rejection seen on several rows or in several sources. */
  rejected: (SourceRejection & { dedupKey: string; line?: number })[];
  notes: string[];
}

/** Notes grouped by kind, each kind capped with a count of the rest. */
class Notes {
  private readonly kinds = new Map<string, { kept: string[]; more: number }>();

  add(kind: string, note: string): void {
    const entry = this.kinds.get(kind) ?? { kept: [], more: 0 };
    this.kinds.set(kind, entry);
    if (entry.kept.length < NOTES_PER_KIND) entry.kept.push(note);
    else entry.more++;
  }

  lines(): string[] {
    const out: string[] = [];
    for (const [kind, { kept, more }] of this.kinds) {
      out.push(...kept);
      if (more > 0) out.push(`... and ${more} more ${kind} notes`);
    }
    return out;
  }
}

/** Longest common folder prefix (`a/b/` or `''`) of keys, so one `list` covers them all. */
function commonFolder(keys: readonly string[]): string {
  let prefix: string | undefined;
  for (const key of keys) {
    const folder = key.slice(0, key.lastIndexOf('/') + 1);
    if (prefix === undefined) prefix = folder;
    while (!folder.startsWith(prefix)) prefix = prefix.slice(0, prefix.lastIndexOf('/', prefix.length - 2) + 1);
    if (prefix === '') break;
  }
  return prefix ?? '';
}

/**
 * Listings shared between the sources of one call: a manifest over an ImageFolder source's files,
 * or two annotators' manifests over the same images, reuse a listing that already covers theirs
 * (on S3 a listing costs a HEAD per object).
 */
class ListingCache {
  private readonly listings = new Map<string, { prefix: string; infos: Promise<ArtifactInfo[]> }[]>();

  list(store: ArtifactStore, prefix: string): Promise<ArtifactInfo[]> {
    const entries = this.listings.get(store.baseUri) ?? [];
    this.listings.set(store.baseUri, entries);
    const covering = entries.find((entry) => prefix.startsWith(entry.prefix));
    if (covering !== undefined) return covering.infos;
    const infos = store.list(prefix);
    entries.push({ prefix, infos });
    return infos;
  }

  /** Infos of `keys` that exist in `store`, found with (at most) one `list` of their common folder. */
  async find(store: ArtifactStore, keys: readonly string[]): Promise<Map<string, ArtifactInfo>> {
    const infos = await this.list(store, commonFolder(keys));
    return new Map(infos.map((info) => [info.key, info]));
  }
}

async function listImageFolderSource(cfg: Extract<FileSource, { kind: 'image-folder' }>, tag: string, openStore: OpenStore, cache: ListingCache): Promise<Contribution> {
  const store = openStore(cfg.uri);
  const listing = await listFolderImages(store, (prefix) => cache.list(store, prefix));
  const where = store.uriOf('');
  const entries = listing.images.map(({ info, className, splitHint }): Entry => {
    const entry: Entry = { id: store.uriOf(info.key), storeUri: store.baseUri, key: info.key, info, annotation: { annotator: tag, label: className }, where };
    if (splitHint !== undefined) entry.splitHint = splitHint;
    return entry;
  });
  const notes = listing.ignored > 0 ? [`image folder ${where}: ${listing.ignored} file${listing.ignored === 1 ? '' : 's'} ignored (hidden, not an image, or outside class folders)`] : [];
  return {
    tag,
    channelOrder: cfg.channelOrder,
    summary: { tag, uri: store.baseUri, images: entries.length, ignored: listing.ignored },
    entries,
    rejected: [],
    notes,
  };
}

async function listCsvSource(cfg: Extract<FileSource, { kind: 'csv' }>, tag: string, openStore: OpenStore, cache: ListingCache): Promise<Contribution> {
  const manifest = await readCsvManifest(cfg.uri, cfg.root, openStore);
  const { file, root } = manifest;
  if (manifest.rows.length === 0 && manifest.rejected.length === 0) {
    throw new SourceError('has a header but no rows', { file, expected: 'one row per image: path,label[,annotator][,group]' });
  }
  const found = manifest.rows.length === 0 ? new Map<string, ArtifactInfo>() : await cache.find(root, manifest.rows.map((row) => row.key));
  const entries: Entry[] = [];
  const rejected: Contribution['rejected'] = [];
  for (const row of manifest.rows) {
    const id = root.uriOf(row.key);
    const info = found.get(row.key);
    if (info === undefined) {
      rejected.push({ uri: id, source: tag, reason: 'unreadable', detail: `listed in ${file} line ${row.line} but not found at ${id}`, dedupKey: `unreadable\u0000${id}`, line: row.line });
      continue;
    }
    const entry: Entry = { id, storeUri: root.baseUri, key: row.key, info, annotation: { annotator: row.annotator ?? tag, label: row.label }, where: `${file} line ${row.line}` };
    if (row.group !== undefined) entry.group = row.group;
    entries.push(entry);
  }
  for (const row of manifest.rejected) {
    const dedupKey = row.reason === 'unreadable' ? `unreadable\u0000${tag}\u0000${row.path}` : `path-traversal\u0000${tag}\u0000${row.path}`;
    rejected.push({ uri: row.path, source: tag, reason: row.reason, detail: `${file} line ${row.line}: ${row.why}`, dedupKey, line: row.line });
  }
  const images = new Set(entries.map((e) => e.id)).size;
  return { tag, channelOrder: cfg.channelOrder, summary: { tag, uri: file, images, ignored: 0 }, entries, rejected, notes: [] };
}

interface Building {
  item: SourceItem;
  /** Per annotator: the label and where it was given. */
  annotations: Map<string, { label: string; where: string }>;
  groupWhere?: string;
}

/**
 * Lists image-folder and CSV sources (MNIST is materialised elsewhere and refused here) and
 * merges them:
 * - items are keyed by image URI; every source and row naming it adds an annotation;
 * - an ImageFolder's annotation, and a CSV row's without an annotator, is by the source's tag
 *   (its `tag`, else its URI as configured);
 * - an annotator labelling the same image twice differently (two rows, or two sources): the
 *   later label (later line, later source in config order) wins, and a note records both;
 * - an item's `source`, `storeUri` and `key` come from the first source listing it; its group
 *   is the first non-empty one (a different later group is noted); a conflicting channel order
 *   is an error, since one of the two decodes would be wrong;
 * - rejections are merged per image URI (traversals per source and path), naming the first
 *   line and counting the others.
 * Items come sorted by id, classes in code-point order.
 */
export async function listSources(sources: readonly SourceConfig[], openStore: OpenStore): Promise<SourceListing> {
  const tags = new Map<string, number>();
  const fileSources: { cfg: FileSource; tag: string }[] = [];
  sources.forEach((cfg, index) => {
    if (cfg.kind === 'mnist') throw new SourceError(`source ${index + 1} is mnist, which listSources does not handle`, { expected: 'image-folder or csv sources (MNIST is materialised as an image folder first)' });
    const tag = cfg.tag ?? cfg.uri;
    const earlier = tags.get(tag);
    if (earlier !== undefined) {
      throw new SourceError(`sources ${earlier + 1} and ${index + 1} are both named ${JSON.stringify(tag)}`, { field: 'tag', value: tag, expected: 'a distinct tag (or URI) per source, since tags name sources and annotators in the data report' });
    }
    tags.set(tag, index);
    fileSources.push({ cfg, tag });
  });
  if (fileSources.length === 0) throw new SourceError('no sources given', { expected: 'at least one image-folder or csv source' });

  const cache = new ListingCache();
  const contributions = await Promise.all(
    fileSources.map(({ cfg, tag }) => (cfg.kind === 'image-folder' ? listImageFolderSource(cfg, tag, openStore, cache) : listCsvSource(cfg, tag, openStore, cache))),
  );

  const notes = new Notes();
  const byId = new Map<string, Building>();
  const channelFrom = new Map<string, string>();
  for (const contribution of contributions) {
    for (const note of contribution.notes) notes.add('ignored-files', note);
    for (const entry of contribution.entries) {
      let building = byId.get(entry.id);
      if (building === undefined) {
        const item: SourceItem = {
          id: entry.id,
          source: contribution.tag,
          storeUri: entry.storeUri,
          key: entry.key,
          size: entry.info.size,
          annotations: [],
          channelOrder: contribution.channelOrder,
        };
        if (entry.info.sha256 !== '') item.sha256 = entry.info.sha256;
        building = { item, annotations: new Map() };
        byId.set(entry.id, building);
        channelFrom.set(entry.id, contribution.tag);
      } else if (building.item.channelOrder !== contribution.channelOrder) {
        throw new SourceError(
          `${entry.id} is listed by source ${JSON.stringify(channelFrom.get(entry.id))} with channelOrder ${building.item.channelOrder} and by ${JSON.stringify(contribution.tag)} (${entry.where}) with ${contribution.channelOrder}`,
          { field: 'channelOrder', value: contribution.channelOrder, expected: 'the same channelOrder in every source listing the same image' },
        );
      }
      const { item, annotations } = building;
      const { annotator, label } = entry.annotation;
      const before = annotations.get(annotator);
      if (before !== undefined && before.label !== label) {
        notes.add('relabelled', `${annotator} labelled ${entry.id} ${JSON.stringify(before.label)} (${before.where}) and ${JSON.stringify(label)} (${entry.where}); ${JSON.stringify(label)} is kept`);
      }
      annotations.set(annotator, { label, where: entry.where });
      if (entry.group !== undefined) {
        if (item.group === undefined) {
          item.group = entry.group;
          building.groupWhere = entry.where;
        } else if (item.group !== entry.group) {
          notes.add('group', `${entry.id} is in group ${JSON.stringify(item.group)} (${building.groupWhere ?? ''}) and ${JSON.stringify(entry.group)} (${entry.where}); the first is kept`);
        }
      }
      if (entry.splitHint !== undefined && item.splitHint === undefined) item.splitHint = entry.splitHint;
    }
  }

  const items = [...byId.values()]
    .map(({ item, annotations }) => {
      item.annotations = [...annotations.entries()].sort(([a], [b]) => byCodePoint(a, b)).map(([annotator, { label }]) => ({ annotator, label }));
      return item;
    })
    .sort((a, b) => compareKeys(a.id, b.id));
  const classes = [...new Set(items.flatMap((item) => item.annotations.map((a) => a.label)))].sort(byCodePoint);

  const rejectedByKey = new Map<string, { rejection: SourceRejection; more: number }>();
  for (const contribution of contributions) {
    const sorted = [...contribution.rejected].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
    for (const { dedupKey, line: _line, ...rejection } of sorted) {
      const seen = rejectedByKey.get(dedupKey);
      if (seen === undefined) rejectedByKey.set(dedupKey, { rejection, more: 0 });
      else seen.more++;
    }
  }
  const rejected = [...rejectedByKey.values()].map(({ rejection, more }) =>
    more === 0 ? rejection : { ...rejection, detail: `${rejection.detail} (and ${more} more row${more === 1 ? '' : 's'})` },
  );

  return { items, rejected, classes, sources: contributions.map((c) => c.summary), notes: notes.lines() };
}
