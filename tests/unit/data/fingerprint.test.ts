import { describe, expect, it } from 'vitest';
import { canonicalJson, datasetFingerprint } from '../../../src/data/fingerprint.js';

const items = [
  { key: 'd/a/1.png', label: 0, sha256: 'aa', size: 10 },
  { key: 'd/b/2.png', label: 1, sha256: 'bb', size: 20 },
  { key: 'd/b/3.png', label: 1, sha256: 'cc', size: 30 },
];
const settings = { size: [28, 28], channels: 1, split: { train: 0.9, val: 0.1 }, seed: 1 };

describe('datasetFingerprint', () => {
  it('is stable for an unchanged dataset listed in any order', () => {
    const fp = datasetFingerprint(items, settings);
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    expect(datasetFingerprint([...items].reverse(), { seed: 1, split: { val: 0.1, train: 0.9 }, channels: 1, size: [28, 28] })).toBe(fp);
  });

  it('changes when content, labels, files or settings change', () => {
    const fp = datasetFingerprint(items, settings);
    const changed = [
      datasetFingerprint([{ ...items[0]!, sha256: 'ab' }, items[1]!, items[2]!], settings),
      datasetFingerprint([{ ...items[0]!, label: 1 }, items[1]!, items[2]!], settings),
      datasetFingerprint(items.slice(1), settings),
      datasetFingerprint(items, { ...settings, seed: 2 }),
    ];
    for (const other of changed) expect(other).not.toBe(fp);
    expect(new Set(changed).size).toBe(changed.length);
  });

  it('falls back to size when there is no content hash, and refuses items with neither', () => {
    const bySize = items.map(({ key, label, size }) => ({ key, label, size }));
    expect(datasetFingerprint(bySize)).not.toBe(datasetFingerprint(bySize.map((i) => ({ ...i, size: i.size + 1 }))));
    expect(() => datasetFingerprint([{ key: 'x.png', label: 0 }])).toThrow(/x\.png needs sha256 or size/);
  });

  it('writes canonical JSON with sorted keys', () => {
    expect(canonicalJson({ b: 1, a: [1, { d: 2, c: undefined }] })).toBe('{"a":[1,{"d":2}],"b":1}');
  });
});
