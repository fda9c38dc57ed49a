import { beforeAll, describe, expect, it } from 'vitest';
import { decodeMany } from '../../../src/data/decode-many.js';
import { byCodePoint, isHidden, isImage, listImageFolder, materialiseImageFolder, type MaterialiseSource } from '../../../src/data/image-folder.js';
import { MNIST_CLASS_NAMES, readMnistSplit, type MnistSplitData } from '../../../src/data/mnist-idx.js';
import { MemoryArtifactStore } from './memory-store.js';

let mnist: MnistSplitData;
beforeAll(async () => {
  mnist = await readMnistSplit('test');
});

const LIMIT = 300;
const source = (limit = LIMIT): MaterialiseSource => ({ split: 'test', images: mnist, labels: mnist.labels, classNames: MNIST_CLASS_NAMES, limit });

describe('materialiseImageFolder + listImageFolder', () => {
  it('round-trips MNIST images through PNG files in ImageFolder layout', async () => {
    const store = new MemoryArtifactStore();
    const progress: number[] = [];
    const result = await materialiseImageFolder(store, 'sources/mnist/', source(), (p) => progress.push(p.done));
    expect(result).toMatchObject({ root: 'sources/mnist/test', total: LIMIT, written: LIMIT, skipped: 0 });
    expect(progress.at(-1)).toBe(LIMIT);
    expect(await store.exists('sources/mnist/test/7/test-0.png')).toBe(true);

    const listing = await listImageFolder(store, 'sources/mnist/test');
    expect(listing.classes).toEqual(MNIST_CLASS_NAMES);
    expect(listing.items).toHaveLength(LIMIT);
    const indexOf = (key: string) => Number(/test-(\d+)\.png$/.exec(key)?.[1]);
    for (const item of listing.items) {
      expect(item.label).toBe(mnist.labels[indexOf(item.key)]);
      expect(item.className).toBe(String(item.label));
      expect(item.sha256).toMatch(/^[0-9a-f]{64}$/);
    }

    const keys = listing.items.map((i) => i.key);
    const pixels = await decodeMany(store, keys, { height: 28, width: 28, channels: 1 }, 8, { workers: 0 });
    keys.forEach((key, n) => {
      const i = indexOf(key);
      expect(pixels.subarray(n * 784, (n + 1) * 784)).toEqual(mnist.pixels.subarray(i * 784, (i + 1) * 784));
    });
  });

  it('is idempotent: a re-run writes nothing, a resumed run writes only what is missing', async () => {
    const store = new MemoryArtifactStore();
    await materialiseImageFolder(store, 'm', source());
    const putsAfterFirst = store.puts;
    const again = await materialiseImageFolder(store, 'm', source());
    expect(again).toMatchObject({ written: 0, skipped: LIMIT });
    expect(store.puts).toBe(putsAfterFirst);

    await store.delete('m/test/7/test-0.png');
    await store.put('m/test/2/test-1.png', 'a half-written file');
    const resumed = await materialiseImageFolder(store, 'm', source());
    expect(resumed).toMatchObject({ written: 2, skipped: LIMIT - 2 });
    expect(store.puts).toBe(putsAfterFirst + 1 + 2);
  });

  it('rejects a label without a class name, naming the image', async () => {
    const store = new MemoryArtifactStore();
    await expect(materialiseImageFolder(store, 'm', { ...source(5), classNames: ['0', '1'] })).rejects.toThrow(/test image 0: label 7 has no class name \(2 classes\)/);
    await expect(materialiseImageFolder(store, 'm', { ...source(5), classNames: ['a/b'] })).rejects.toThrow(/classNames/);
  });

  it('lists a user folder: sorted classes, nested files, hidden and non-image files ignored', async () => {
    const store = new MemoryArtifactStore();
    for (const key of ['zebra/1.jpg', 'ant/a.PNG', 'ant/sub/b.webp', 'ant/.DS_Store', '.cache/x.png', 'ant/notes.txt', 'README.md', 'Bee/c.jpeg']) {
      await store.put(`user/${key}`, 'x');
    }
    const listing = await listImageFolder(store, 'user');
    expect(listing.classes).toEqual(['Bee', 'ant', 'zebra']);
    expect(listing.items.map((i) => [i.key, i.label])).toEqual([
      ['user/Bee/c.jpeg', 0],
      ['user/ant/a.PNG', 1],
      ['user/ant/sub/b.webp', 1],
      ['user/zebra/1.jpg', 2],
    ]);
  });

  it('explains an empty folder and a folder without class folders', async () => {
    const store = new MemoryArtifactStore();
    await expect(listImageFolder(store, 'nothing')).rejects.toThrow(/image folder mem:\/\/test\/nothing\/ is empty: expected <class>\/<image>/);
    await store.put('flat/1.png', 'x');
    await store.put('flat/2.png', 'x');
    await expect(listImageFolder(store, 'flat')).rejects.toThrow(/has 2 files but no images in class folders/);
  });
});

describe('image-folder helpers', () => {
  it('recognises image names by extension in any case, hidden segments, and sorts by code point', () => {
    expect(['a.PNG', 'b.jpeg', 'c.tiff', 'd.avif', 'e.HEIC', 'f.heif'].every(isImage)).toBe(true);
    expect(['notes.txt', '.png', 'png', 'archive.png.zip'].some(isImage)).toBe(false);
    expect(isHidden(['cat', '.DS_Store'])).toBe(true);
    expect(isHidden(['.cache', 'x.png'])).toBe(true);
    expect(isHidden(['cat', 'x.png'])).toBe(false);
    // UTF-16 order would put U+1F431 (a surrogate pair) before U+FF21; code-point order does not.
    expect(['\uff21', '\u{1f431}', 'b', 'B'].sort(byCodePoint)).toEqual(['B', 'b', '\uff21', '\u{1f431}']);
  });
});
