import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyseLabels } from '../../src/data/label-qa.js';
import { listSources } from '../../src/data/sources/list-sources.js';
import type { ArtifactStore } from '../../src/storage/artifact-store.js';
import { openStore } from '../../src/storage/open-store.js';
import { testS3StoreUri } from './support/s3.js';

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('listSources on S3 (SeaweedFS) merged with a local folder', () => {
  let base: string;
  let store: ArtifactStore;
  let local: string;
  const lists: string[] = [];
  const open = (uri: string): ArtifactStore => {
    const opened = openStore(uri);
    return Object.assign(Object.create(opened) as ArtifactStore, {
      list: (prefix: string) => {
        lists.push(opened.uriOf(prefix));
        return opened.list(prefix);
      },
    });
  };

  beforeAll(async () => {
    base = testS3StoreUri('sources');
    store = openStore(base);
    for (const key of ['folder/train/cat/1.png', 'folder/train/dog/2.jpg', 'folder/test/cat/3.png', 'folder/train/cat/.DS_Store', 'folder/README.md']) {
      await store.put(key, `bytes of ${key}`);
    }
    for (const key of ['manifest/images/a.png', 'manifest/images/b.png', 'manifest/images/sub/c.png']) await store.put(key, `bytes of ${key}`);
    await store.put(
      'manifest/labels.csv',
      [
        '\ufeffpath,label,annotator',
        'images/a.png,cat,alice',
        'images/a.png,dog,bob',
        `${base}/manifest/images/b.png,dog,alice`,
        '"images\\sub\\c.png",bird,alice',
        'images/missing.png,cat,alice',
        '../folder/train/cat/1.png,cat,alice',
        `${base}-elsewhere/x.png,cat,alice`,
        '',
      ].join('\r\n'),
    );
    local = mkdtempSync(path.join(tmpdir(), 'dv-sources-s3-'));
    mkdirSync(path.join(local, 'cat'), { recursive: true });
    writeFileSync(path.join(local, 'cat', 'local.png'), 'local cat');
    // A local manifest whose root is the S3 ImageFolder: a second opinion on its training images.
    writeFileSync(path.join(local, 'carol.csv'), 'path,label\ntrain/cat/1.png,dog\ntrain/dog/2.jpg,dog\n');
  });

  afterAll(async () => {
    for (const info of await store.list('')) await store.delete(info.key);
    rmSync(local, { recursive: true, force: true });
  });

  it('lists an ImageFolder and a CSV under an S3 prefix, merges them with local sources, and rejects what it must', async () => {
    const listing = await listSources(
      [
        { kind: 'image-folder', uri: `${base}/folder`, tag: 's3-folder', channelOrder: 'rgb' },
        { kind: 'csv', uri: `${base}/manifest/labels.csv`, tag: 's3-csv', channelOrder: 'rgb' },
        { kind: 'image-folder', uri: local, tag: 'local', channelOrder: 'rgb' },
        { kind: 'csv', uri: path.join(local, 'carol.csv'), root: `${base}/folder`, tag: 'carol', channelOrder: 'rgb' },
      ],
      open,
    );
    const localUri = pathToFileURL(path.join(local, 'cat', 'local.png')).href;
    expect(listing.items.map((i) => [i.id, i.source, i.storeUri, i.key, i.splitHint, i.annotations.map((a) => `${a.annotator}:${a.label}`).join(' ')])).toEqual([
      [localUri, 'local', pathToFileURL(local).href, 'cat/local.png', undefined, 'local:cat'],
      [`${base}/folder/test/cat/3.png`, 's3-folder', `${base}/folder`, 'test/cat/3.png', 'test', 's3-folder:cat'],
      [`${base}/folder/train/cat/1.png`, 's3-folder', `${base}/folder`, 'train/cat/1.png', 'train', 'carol:dog s3-folder:cat'],
      [`${base}/folder/train/dog/2.jpg`, 's3-folder', `${base}/folder`, 'train/dog/2.jpg', 'train', 'carol:dog s3-folder:dog'],
      [`${base}/manifest/images/a.png`, 's3-csv', `${base}/manifest`, 'images/a.png', undefined, 'alice:cat bob:dog'],
      [`${base}/manifest/images/b.png`, 's3-csv', `${base}/manifest`, 'images/b.png', undefined, 'alice:dog'],
      [`${base}/manifest/images/sub/c.png`, 's3-csv', `${base}/manifest`, 'images/sub/c.png', undefined, 'alice:bird'],
    ]);
    const a = listing.items.find((i) => i.key === 'images/a.png');
    expect(a).toMatchObject({ size: 'bytes of manifest/images/a.png'.length, sha256: sha('bytes of manifest/images/a.png') });
    expect(listing.classes).toEqual(['bird', 'cat', 'dog']);
    expect(listing.sources).toEqual([
      { tag: 's3-folder', uri: `${base}/folder`, images: 3, ignored: 2 },
      { tag: 's3-csv', uri: `${base}/manifest/labels.csv`, images: 3, ignored: 0 },
      { tag: 'local', uri: pathToFileURL(local).href, images: 1, ignored: 1 },
      { tag: 'carol', uri: pathToFileURL(path.join(local, 'carol.csv')).href, images: 2, ignored: 0 },
    ]);

    const csvUri = `${base}/manifest/labels.csv`;
    expect(listing.rejected).toEqual([
      { uri: `${base}/manifest/images/missing.png`, source: 's3-csv', reason: 'unreadable', detail: `listed in ${csvUri} line 6 but not found at ${base}/manifest/images/missing.png` },
      { uri: '../folder/train/cat/1.png', source: 's3-csv', reason: 'path-traversal', detail: expect.stringMatching(new RegExp(`^${csvUri.replace(/[/.]/g, '\\$&')} line 7: .*climbs above the root`)) },
      { uri: `${base}-elsewhere/x.png`, source: 's3-csv', reason: 'path-traversal', detail: expect.stringMatching(/line 8: the s3: URI .* points outside the root/) },
    ]);
    // Existence is found by listing, not a HEAD per row: carol's manifest reuses the ImageFolder's
    // listing, the other manifest lists its common folder of paths.
    expect(lists.filter((uri) => uri.startsWith('s3://')).sort()).toEqual([`${base}/folder/`, `${base}/manifest/images/`]);

    const qa = analyseLabels(listing.items, listing.classes);
    expect(qa.multiplyAnnotated).toBe(3);
    expect(qa.conflicted).toEqual([`${base}/folder/train/cat/1.png`, `${base}/manifest/images/a.png`]);
  });
});
