import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SourceConfig } from '../../../../src/core/config.js';
import { listSources } from '../../../../src/data/sources/list-sources.js';
import { SourceError } from '../../../../src/data/sources/types.js';
import type { ArtifactStore } from '../../../../src/storage/artifact-store.js';
import { TempTree } from './helpers.js';

let tree: TempTree;
beforeEach(() => {
  tree = new TempTree();
});
afterEach(() => tree.remove());

const folder = (uri: string, extra: { tag?: string; channelOrder?: 'rgb' | 'bgr' } = {}): SourceConfig => ({ kind: 'image-folder', uri, channelOrder: 'rgb', ...extra });
const csv = (uri: string, extra: { tag?: string; root?: string; channelOrder?: 'rgb' | 'bgr' } = {}): SourceConfig => ({ kind: 'csv', uri, channelOrder: 'rgb', ...extra });
const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Counts `list` calls, to check existence is found with one listing rather than a call per row. */
function counting(open: (uri: string) => ArtifactStore): { open: (uri: string) => ArtifactStore; calls: { list: string[]; stat: number; exists: number } } {
  const calls = { list: [] as string[], stat: 0, exists: 0 };
  return {
    calls,
    open: (uri) => {
      const store = open(uri);
      return Object.assign(Object.create(store) as ArtifactStore, {
        list: (prefix: string) => {
          calls.list.push(store.uriOf(prefix));
          return store.list(prefix);
        },
        stat: (key: string) => {
          calls.stat++;
          return store.stat(key);
        },
        exists: (key: string) => {
          calls.exists++;
          return store.exists(key);
        },
      });
    },
  };
}

describe('listSources: ImageFolder', () => {
  it('lists a flat folder: one annotation by the source tag, sizes and hashes, non-images and hidden files ignored but counted', async () => {
    for (const f of ['pets/dog/b.jpg', 'pets/cat/a.png', 'pets/cat/sub/c.webp', 'pets/cat/.DS_Store', 'pets/cat/notes.txt', 'pets/.cache/x.png', 'pets/README.md', 'pets/stray.png']) tree.write(f);
    const listing = await listSources([folder('pets', { tag: 'pets' })], tree.open);
    expect(listing.classes).toEqual(['cat', 'dog']);
    expect(listing.items.map((i) => [i.key, i.annotations])).toEqual([
      ['cat/a.png', [{ annotator: 'pets', label: 'cat' }]],
      ['cat/sub/c.webp', [{ annotator: 'pets', label: 'cat' }]],
      ['dog/b.jpg', [{ annotator: 'pets', label: 'dog' }]],
    ]);
    const first = listing.items[0];
    expect(first).toMatchObject({
      id: tree.uri('pets/cat/a.png'),
      source: 'pets',
      storeUri: tree.uri('pets'),
      size: 'bytes of pets/cat/a.png'.length,
      sha256: sha('bytes of pets/cat/a.png'),
      channelOrder: 'rgb',
    });
    expect(first?.splitHint).toBeUndefined();
    expect(listing.sources).toEqual([{ tag: 'pets', uri: tree.uri('pets'), images: 3, ignored: 5 }]);
    expect(listing.notes).toEqual([`image folder ${tree.uri('pets')}/: 5 files ignored (hidden, not an image, or outside class folders)`]);
    expect(listing.rejected).toEqual([]);
  });

  it('lists train/ and test/ folders with split hints; the tag defaults to the URI as configured', async () => {
    for (const f of ['ds/train/cat/1.png', 'ds/train/dog/2.png', 'ds/test/cat/3.png', 'ds/train/loose.png']) tree.write(f);
    const listing = await listSources([folder(tree.uri('ds'), { channelOrder: 'bgr' })], tree.open);
    expect(listing.items.map((i) => [i.key, i.splitHint, i.annotations[0]?.label, i.source, i.channelOrder])).toEqual([
      ['test/cat/3.png', 'test', 'cat', tree.uri('ds'), 'bgr'],
      ['train/cat/1.png', 'train', 'cat', tree.uri('ds'), 'bgr'],
      ['train/dog/2.png', 'train', 'dog', tree.uri('ds'), 'bgr'],
    ]);
    expect(listing.classes).toEqual(['cat', 'dog']);
    expect(listing.sources[0]?.ignored).toBe(1);
  });

  it('refuses images beside train/ and test/, an empty folder and a folder without class folders', async () => {
    for (const f of ['ds/train/cat/1.png', 'ds/val/cat/2.png']) tree.write(f);
    await expect(listSources([folder('ds')], tree.open)).rejects.toThrow(/has train\/ or test\/ class folders but also images under val\//);
    await expect(listSources([folder('missing')], tree.open)).rejects.toThrow(SourceError);
    await expect(listSources([folder('missing')], tree.open)).rejects.toThrow(/image folder .*missing\/ is empty or does not exist/);
    tree.write('flat/1.png');
    await expect(listSources([folder('flat')], tree.open)).rejects.toThrow(/has 1 files but no images in class folders/);
  });
});

describe('listSources: CSV manifests', () => {
  it('reads quoted paths, a BOM and CRLF, columns in any order, resolving against the CSV folder', async () => {
    for (const f of ['ds/img/a,1.png', 'ds/img/b "2".png', 'ds/img/c.png']) tree.write(f);
    tree.write('ds/labels.csv', '\ufeffLabel , group,Path\r\ncat,g1,"img/a,1.png"\r\n\r\n"dog",g2,"img/b ""2"".png"\r\ncat,,img/c.png\r\n');
    const listing = await listSources([csv('ds/labels.csv', { tag: 'lab' })], tree.open);
    expect(listing.items.map((i) => [i.key, i.annotations, i.group])).toEqual([
      ['img/a,1.png', [{ annotator: 'lab', label: 'cat' }], 'g1'],
      ['img/b "2".png', [{ annotator: 'lab', label: 'dog' }], 'g2'],
      ['img/c.png', [{ annotator: 'lab', label: 'cat' }], undefined],
    ]);
    expect(listing.items[0]).toMatchObject({ id: tree.uri('ds/img/a,1.png'), storeUri: tree.uri('ds'), source: 'lab', sha256: sha('bytes of ds/img/a,1.png') });
    expect(listing.sources).toEqual([{ tag: 'lab', uri: tree.uri('ds/labels.csv'), images: 3, ignored: 0 }]);
  });

  it('resolves against a configured root and finds existence with one list of the common folder', async () => {
    for (const f of ['images/set/cat/1.png', 'images/set/dog/2.png', 'images/other/3.png']) tree.write(f);
    tree.write('meta/labels.csv', 'path,label\nset/cat/1.png,cat\nset/dog/2.png,dog\nset/dog/missing.png,dog\n');
    const { open, calls } = counting(tree.open);
    const listing = await listSources([csv(tree.uri('meta/labels.csv'), { root: tree.path('images'), tag: 't' })], open);
    expect(listing.items.map((i) => i.id)).toEqual([tree.uri('images/set/cat/1.png'), tree.uri('images/set/dog/2.png')]);
    expect(calls.list).toEqual([`${tree.uri('images/set')}/`]);
    expect(calls.stat + calls.exists).toBe(0);
    expect(listing.rejected).toEqual([
      {
        uri: tree.uri('images/set/dog/missing.png'),
        source: 't',
        reason: 'unreadable',
        detail: `listed in ${tree.uri('meta/labels.csv')} line 4 but not found at ${tree.uri('images/set/dog/missing.png')}`,
      },
    ]);
  });

  it('turns every kind of path traversal into a rejection naming the file and line, and keeps the rest', async () => {
    tree.write('secret.png');
    tree.write('ds/ok.png');
    const bad = ['../secret.png', '/etc/passwd', tree.uri('secret.png'), 's3://bucket/x.png', '"..\\\\secret.png"', 'x\u0000.png', '%2e%2e/secret.png', 'C:\\\\x.png'];
    tree.write('ds/labels.csv', ['path,label', 'ok.png,cat', ...bad.map((p) => `${p},cat`)].join('\n'));
    const listing = await listSources([csv('ds/labels.csv', { tag: 't' })], tree.open);
    expect(listing.items.map((i) => i.key)).toEqual(['ok.png']);
    expect(listing.rejected).toHaveLength(bad.length);
    listing.rejected.forEach((r, i) => {
      expect(r.reason).toBe('path-traversal');
      expect(r.source).toBe('t');
      expect(r.detail).toContain(`${tree.uri('ds/labels.csv')} line ${i + 3}: `);
    });
    expect(listing.rejected[0]).toMatchObject({ uri: '../secret.png' });
    expect(listing.rejected[4]).toMatchObject({ uri: '..\\\\secret.png' });
  });

  const malformed: [string, string, RegExp][] = [
    ['a missing header', 'cat/1.png,cat\n', /labels\.csv line 1: has no header row .*expected a header row naming path and label/],
    ['an unknown column', 'path,label,comment\ncat/1.png,cat,x\n', /labels\.csv line 1: unknown column "comment" in the header; expected only the columns path, label, annotator, group/],
    ['a header without label', 'path,annotator\ncat/1.png,al\n', /labels\.csv line 1: the header lacks the column label/],
    ['a duplicated column', 'path,label,Label\ncat/1.png,cat,cat\n', /line 1: the header names the column label twice/],
    ['a missing label', 'path,label\ncat/1.png,cat\n\ncat/2.png,\n', /labels\.csv line 4: the label of "cat\/2\.png" is empty/],
    ['an empty path', 'path,label\n,cat\n', /labels\.csv line 2: the path is empty/],
    ['too few fields', 'path,label,annotator\ncat/1.png,cat\n', /labels\.csv line 2: has 2 fields, the header has 3 \(path,label,annotator\)/],
    ['too many fields', 'path,label\ncat/1,2.png,cat\n', /labels\.csv line 2: has 3 fields, the header has 2.*quote a field that contains a comma/],
    ['an unclosed quote', 'path,label\n"cat/1.png,cat\n', /labels\.csv line 2: a quoted field is never closed/],
    ['an empty file', '', /labels\.csv: is empty/],
    ['a header and no rows', 'path,label\n', /labels\.csv: has a header but no rows/],
  ];
  for (const [name, text, message] of malformed) {
    it(`reports ${name} as a SourceError with file and line`, async () => {
      tree.write('ds/cat/1.png');
      tree.write('ds/labels.csv', text);
      const attempt = listSources([csv('ds/labels.csv')], tree.open);
      await expect(attempt).rejects.toBeInstanceOf(SourceError);
      await expect(listSources([csv('ds/labels.csv')], tree.open)).rejects.toThrow(message);
    });
  }

  it('reports a missing CSV file and a CSV URI naming a folder', async () => {
    await expect(listSources([csv('nope/labels.csv')], tree.open)).rejects.toThrow(/labels\.csv: does not exist/);
    await expect(listSources([csv('nope/')], tree.open)).rejects.toThrow(/names a folder/);
  });

  it('refuses mnist, duplicate tags and disagreeing channel orders', async () => {
    tree.write('ds/cat/1.png');
    tree.write('ds/labels.csv', 'path,label\ncat/1.png,cat\n');
    await expect(listSources([{ kind: 'mnist' }], tree.open)).rejects.toThrow(/mnist, which listSources does not handle/);
    await expect(listSources([folder('ds', { tag: 'x' }), csv('ds/labels.csv', { tag: 'x' })], tree.open)).rejects.toThrow(/sources 1 and 2 are both named "x"/);
    await expect(listSources([folder('ds'), csv('ds/labels.csv', { channelOrder: 'bgr' })], tree.open)).rejects.toThrow(/channelOrder rgb and by "ds\/labels\.csv" .* with bgr/);
  });
});

describe('listSources: merging', () => {
  it("merges two annotators' CSVs over the same images by path, and a folder source over the same files", async () => {
    for (const f of ['ds/img/1.png', 'ds/img/2.png', 'ds/img/3.png']) tree.write(f);
    tree.write('ds/alice.csv', 'path,label\nimg/1.png,cat\nimg/2.png,dog\nimg/3.png,cat\n');
    tree.write('ds/bob/labels.csv', 'path,label,annotator\nimg/1.png,cat,bob\nimg/2.png,cat,bob\n');
    const { open, calls } = counting(tree.open);
    const listing = await listSources([csv('ds/alice.csv', { tag: 'alice' }), csv('ds/bob/labels.csv', { root: 'ds', tag: 'b' })], open);
    expect(listing.items.map((i) => [i.key, i.source, i.annotations])).toEqual([
      ['img/1.png', 'alice', [{ annotator: 'alice', label: 'cat' }, { annotator: 'bob', label: 'cat' }]],
      ['img/2.png', 'alice', [{ annotator: 'alice', label: 'dog' }, { annotator: 'bob', label: 'cat' }]],
      ['img/3.png', 'alice', [{ annotator: 'alice', label: 'cat' }]],
    ]);
    expect(calls.list).toEqual([`${tree.uri('ds/img')}/`]);
    expect(listing.sources.map((s) => [s.tag, s.images])).toEqual([
      ['alice', 3],
      ['b', 2],
    ]);

    // The folder source is rooted at the CSV's folder: the same files and ids, one listing for both.
    calls.list.length = 0;
    const withFolder = await listSources([folder('ds', { tag: 'folders' }), csv('ds/alice.csv', { tag: 'alice' })], open);
    expect(calls.list).toEqual([`${tree.uri('ds')}/`]);
    expect(withFolder.items).toHaveLength(3);
    expect(withFolder.items.find((i) => i.key.endsWith('2.png'))).toMatchObject({
      id: tree.uri('ds/img/2.png'),
      source: 'folders',
      storeUri: tree.uri('ds'),
      key: 'img/2.png',
      annotations: [
        { annotator: 'alice', label: 'dog' },
        { annotator: 'folders', label: 'img' },
      ],
    });
  });

  it('merges rows for one path within a CSV; the same annotator relabelling an image: the later label wins, noted', async () => {
    for (const f of ['ds/1.png', 'ds/2.png']) tree.write(f);
    tree.write('ds/labels.csv', 'path,label,annotator,group\n1.png,cat,al,g\n1.png,dog,bo,\n./1.png,cat,al,h\n2.png,cat,al,\n2.png,bird,al,\n');
    const listing = await listSources([csv('ds/labels.csv', { tag: 't' })], tree.open);
    expect(listing.items.map((i) => [i.key, i.annotations, i.group])).toEqual([
      ['1.png', [{ annotator: 'al', label: 'cat' }, { annotator: 'bo', label: 'dog' }], 'g'],
      ['2.png', [{ annotator: 'al', label: 'bird' }], undefined],
    ]);
    expect(listing.classes).toEqual(['bird', 'cat', 'dog']);
    const file = tree.uri('ds/labels.csv');
    expect(listing.notes).toEqual([
      `${tree.uri('ds/1.png')} is in group "g" (${file} line 2) and "h" (${file} line 4); the first is kept`,
      `al labelled ${tree.uri('ds/2.png')} "cat" (${file} line 5) and "bird" (${file} line 6); "bird" is kept`,
    ]);
  });

  it('merges rejections of one missing image listed by several rows and sources', async () => {
    tree.write('ds/1.png');
    tree.write('ds/a.csv', 'path,label\n1.png,cat\ngone.png,cat\n');
    tree.write('ds/b.csv', 'path,label,annotator\ngone.png,dog,x\ngone.png,dog,y\n');
    const listing = await listSources([csv('ds/a.csv', { tag: 'a' }), csv('ds/b.csv', { tag: 'b' })], tree.open);
    expect(listing.rejected).toEqual([
      { uri: tree.uri('ds/gone.png'), source: 'a', reason: 'unreadable', detail: `listed in ${tree.uri('ds/a.csv')} line 3 but not found at ${tree.uri('ds/gone.png')} (and 2 more rows)` },
    ]);
  });

  it('sorts items by id across sources', async () => {
    for (const f of ['z/cat/1.png', 'a/dog/1.png', 'm/cat/2.png']) tree.write(f);
    const listing = await listSources([folder('z'), folder('a'), folder('m')], tree.open);
    expect(listing.items.map((i) => i.id)).toEqual([tree.uri('a/dog/1.png'), tree.uri('m/cat/2.png'), tree.uri('z/cat/1.png')]);
  });
});
