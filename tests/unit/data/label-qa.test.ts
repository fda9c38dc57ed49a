import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  addThirdAnnotations,
  analyseLabels,
  arbitrationCsv,
  arbitrationJson,
  labelQaCounts,
  parseArbitrationCsv,
  resolveLabels,
} from '../../../src/data/label-qa.js';
import { parseCsv, csvLine } from '../../../src/data/sources/csv.js';
import { listSources } from '../../../src/data/sources/list-sources.js';
import { SourceError, type Annotation, type SourceItem } from '../../../src/data/sources/types.js';
import { TempTree } from './sources/helpers.js';

const CLASSES = ['bird', 'cat', 'dog'];
const [BIRD, CAT, DOG] = [0, 1, 2];

let tree: TempTree;
beforeEach(() => {
  tree = new TempTree();
});
afterEach(() => tree.remove());

const name = (i: number): string => `img/${String(i).padStart(3, '0')}.png`;

/**
 * 100 images labelled by alice and bob, 8 of them differently, plus 10 only alice labelled:
 * agreed 40 cat, 32 dog, 20 bird; conflicts 5 cat/dog, 2 bird/cat, 1 dog/bird.
 */
function writeEightConflicts(): void {
  const alice = ['path,label'];
  const bob = ['path,label'];
  const pairs: [string, string][] = [
    ...Array.from({ length: 40 }, (): [string, string] => ['cat', 'cat']),
    ...Array.from({ length: 32 }, (): [string, string] => ['dog', 'dog']),
    ...Array.from({ length: 20 }, (): [string, string] => ['bird', 'bird']),
    ...Array.from({ length: 5 }, (): [string, string] => ['cat', 'dog']),
    ['bird', 'cat'],
    ['bird', 'cat'],
    ['dog', 'bird'],
  ];
  pairs.forEach(([a, b], i) => {
    tree.write(`ds/${name(i)}`);
    alice.push(`${name(i)},${a}`);
    bob.push(`${name(i)},${b}`);
  });
  for (let i = 100; i < 110; i++) {
    tree.write(`ds/${name(i)}`);
    alice.push(`${name(i)},cat`);
  }
  tree.write('ds/alice.csv', alice.join('\n'));
  tree.write('ds/bob.csv', bob.join('\n'));
}

async function listEightConflicts(): Promise<SourceItem[]> {
  writeEightConflicts();
  const listing = await listSources(
    [
      { kind: 'csv', uri: 'ds/alice.csv', tag: 'alice', channelOrder: 'rgb' },
      { kind: 'csv', uri: 'ds/bob.csv', tag: 'bob', channelOrder: 'rgb' },
    ],
    tree.open,
  );
  expect(listing.classes).toEqual(CLASSES);
  expect(listing.items).toHaveLength(110);
  return listing.items;
}

const item = (id: string, ...labels: string[]): { id: string; annotations: Annotation[] } => ({
  id,
  annotations: labels.map((label, i) => ({ annotator: `a${i}`, label })),
});

describe('analyseLabels', () => {
  it('measures 8 conflicts in 100 doubly annotated images (two CSVs merged): rate 0.08, per class and pair matrix', async () => {
    const items = await listEightConflicts();
    const qa = analyseLabels(items, CLASSES);
    expect(qa.multiplyAnnotated).toBe(100);
    expect(qa.conflicted).toEqual([92, 93, 94, 95, 96, 97, 98, 99].map((i) => tree.uri(`ds/${name(i)}`)));
    expect(qa.conflictRate).toBe(0.08);
    // cat: 40 agreed + 5 cat/dog + 2 bird/cat; dog: 32 + 5 + 1 dog/bird; bird: 20 + 2 + 1.
    expect(qa.perClass).toEqual([
      { className: 'bird', annotated: 23, conflicted: 3, rate: 3 / 23 },
      { className: 'cat', annotated: 47, conflicted: 7, rate: 7 / 47 },
      { className: 'dog', annotated: 38, conflicted: 6, rate: 6 / 38 },
    ]);
    const expected = [
      [20, 2, 1],
      [2, 40, 5],
      [1, 5, 32],
    ];
    expect(qa.matrix).toEqual(expected);
    expect(qa.matrix[BIRD]?.[CAT]).toBe(2);
    expect(qa.matrix[CAT]?.[DOG]).toBe(5);
    expect(labelQaCounts(qa)).toEqual({ multiplyAnnotated: 100, conflicted: 8, conflictRate: 0.08, perClass: qa.perClass, matrix: expected });
  });

  it('measures 3 conflicts in 100: rate 0.03, ignoring singly annotated images', () => {
    const items = [
      ...Array.from({ length: 50 }, (_, i) => item(`cat-${i}`, 'cat', 'cat')),
      ...Array.from({ length: 30 }, (_, i) => item(`dog-${i}`, 'dog', 'dog')),
      ...Array.from({ length: 17 }, (_, i) => item(`bird-${i}`, 'bird', 'bird')),
      item('x1', 'cat', 'dog'),
      item('x2', 'dog', 'cat'),
      item('x3', 'bird', 'dog'),
      ...Array.from({ length: 25 }, (_, i) => item(`single-${i}`, 'dog')),
    ];
    const qa = analyseLabels(items, CLASSES);
    expect(qa.multiplyAnnotated).toBe(100);
    expect(qa.conflicted).toEqual(['x1', 'x2', 'x3']);
    expect(qa.conflictRate).toBe(0.03);
    expect(qa.perClass).toEqual([
      { className: 'bird', annotated: 18, conflicted: 1, rate: 1 / 18 },
      { className: 'cat', annotated: 52, conflicted: 2, rate: 2 / 52 },
      { className: 'dog', annotated: 33, conflicted: 3, rate: 3 / 33 },
    ]);
    expect(qa.matrix).toEqual([
      [17, 0, 1],
      [0, 50, 2],
      [1, 2, 30],
    ]);
  });

  it('counts every annotator pair of an image: cat, cat, dog adds one agreeing pair and two cat/dog pairs', () => {
    const qa = analyseLabels([item('a', 'cat', 'cat', 'dog')], CLASSES);
    expect(qa.matrix).toEqual([
      [0, 0, 0],
      [0, 1, 2],
      [0, 2, 0],
    ]);
    expect(qa.perClass.map((c) => [c.annotated, c.conflicted])).toEqual([
      [0, 0],
      [1, 1],
      [1, 1],
    ]);
  });

  it('is all zeros without multiply annotated images, and refuses labels outside the classes', () => {
    const qa = analyseLabels([item('a', 'cat')], CLASSES);
    expect(qa).toMatchObject({ multiplyAnnotated: 0, conflicted: [], conflictRate: 0 });
    expect(qa.perClass.every((c) => c.rate === 0)).toBe(true);
    expect(() => analyseLabels([item('a', 'cat', 'fish')], CLASSES)).toThrow(/label "fish" of a is not among the 3 classes/);
  });
});

describe('resolveLabels', () => {
  const items = [
    item('single', 'cat'),
    item('agreed', 'dog', 'dog'),
    item('two-one', 'cat', 'dog', 'cat'),
    item('pair', 'cat', 'dog'),
    item('two-two', 'cat', 'dog', 'dog', 'cat'),
    item('three-way', 'bird', 'cat', 'dog'),
    item('plurality', 'bird', 'cat', 'cat', 'dog'),
  ];

  it('majority: a strict plurality wins, ties are dropped', () => {
    expect(resolveLabels(items, 'majority')).toEqual([
      { id: 'single', label: 'cat', how: 'single' },
      { id: 'agreed', label: 'dog', how: 'agreed' },
      { id: 'two-one', label: 'cat', how: 'majority' },
      { id: 'pair', dropped: 'label-conflict', how: 'tie' },
      { id: 'two-two', dropped: 'label-conflict', how: 'tie' },
      { id: 'three-way', dropped: 'label-conflict', how: 'tie' },
      { id: 'plurality', label: 'cat', how: 'majority' },
    ]);
  });

  it('drop: every conflict is dropped, agreement and single labels kept', () => {
    expect(resolveLabels(items, 'drop').map((d) => [d.id, d.label ?? d.dropped, d.how])).toEqual([
      ['single', 'cat', 'single'],
      ['agreed', 'dog', 'agreed'],
      ['two-one', 'label-conflict', 'rule-drop'],
      ['pair', 'label-conflict', 'rule-drop'],
      ['two-two', 'label-conflict', 'rule-drop'],
      ['three-way', 'label-conflict', 'rule-drop'],
      ['plurality', 'label-conflict', 'rule-drop'],
    ]);
  });

  it('arbitration overrides win over the rule; conflicts without one fall back to it', () => {
    const overrides = new Map([
      ['pair', 'dog'],
      ['two-one', 'bird'],
    ]);
    const decisions = resolveLabels(items, 'drop', overrides);
    expect(decisions.find((d) => d.id === 'pair')).toEqual({ id: 'pair', label: 'dog', how: 'arbitrated' });
    expect(decisions.find((d) => d.id === 'two-one')).toEqual({ id: 'two-one', label: 'bird', how: 'arbitrated' });
    expect(decisions.find((d) => d.id === 'three-way')).toEqual({ id: 'three-way', dropped: 'label-conflict', how: 'rule-drop' });
  });

  it('refuses an item without annotations', () => {
    expect(() => resolveLabels([{ id: 'x', annotations: [] }], 'majority')).toThrow(/item x has no annotations/);
  });
});

describe('arbitration file', () => {
  const conflicted: SourceItem[] = [
    {
      id: 's3://b/p/odd, "name".png',
      source: 'alice',
      storeUri: 's3://b/p',
      key: 'odd, "name".png',
      annotations: [
        { annotator: 'bob', label: 'dog' },
        { annotator: 'alice', label: 'cat' },
      ],
      channelOrder: 'rgb',
    },
    { id: 's3://b/p/2.png', source: 'alice', storeUri: 's3://b/p', key: '2.png', annotations: item('', 'bird', 'cat').annotations, channelOrder: 'rgb' },
  ];
  const ids = new Set(conflicted.map((c) => c.id));

  function fillIn(csv: string, resolutions: string[]): string {
    const [header, ...rows] = parseCsv(csv, 'a.csv');
    return [header, ...rows.map((r, i) => ({ ...r, fields: [...r.fields.slice(0, 4), resolutions[i] ?? ''] }))]
      .map((r) => csvLine(r?.fields ?? []))
      .join('\r\n');
  }

  it('writes one row per conflicted image with an empty resolution, and reads the filled-in file back', () => {
    const csv = arbitrationCsv(conflicted);
    expect(csv).toBe('id,path,source,labels,resolution\r\n"s3://b/p/odd, ""name"".png","odd, ""name"".png",alice,alice:cat; bob:dog,\r\ns3://b/p/2.png,2.png,alice,a0:bird; a1:cat,\r\n');
    expect(parseArbitrationCsv(csv, 'a.csv', CLASSES, ids)).toEqual(new Map());
    const filled = fillIn(csv, ['dog', '']);
    expect(parseArbitrationCsv(filled, 'a.csv', CLASSES, ids)).toEqual(new Map([['s3://b/p/odd, "name".png', 'dog']]));
    expect(parseArbitrationCsv(Buffer.from(`\ufeff${fillIn(csv, ['dog', 'bird'])}`), 'a.csv', CLASSES, ids)).toEqual(
      new Map([
        ['s3://b/p/odd, "name".png', 'dog'],
        ['s3://b/p/2.png', 'bird'],
      ]),
    );
    // Columns people add are ignored.
    expect(parseArbitrationCsv('resolution,notes,id\ncat,looked twice,s3://b/p/2.png\n', 'a.csv', CLASSES, ids)).toEqual(new Map([['s3://b/p/2.png', 'cat']]));
  });

  it('writes the same rows as JSON', () => {
    expect(JSON.parse(arbitrationJson(conflicted))).toEqual({
      items: [
        {
          id: 's3://b/p/odd, "name".png',
          path: 'odd, "name".png',
          source: 'alice',
          annotations: [
            { annotator: 'alice', label: 'cat' },
            { annotator: 'bob', label: 'dog' },
          ],
          resolution: null,
        },
        { id: 's3://b/p/2.png', path: '2.png', source: 'alice', annotations: conflicted[1]?.annotations, resolution: null },
      ],
    });
  });

  it('refuses unknown classes (listing the known ones), ids outside the conflicts, double resolutions and a bad header', () => {
    const filled = fillIn(arbitrationCsv(conflicted), ['fish', '']);
    expect(() => parseArbitrationCsv(filled, 'a.csv', CLASSES, ids)).toThrow(SourceError);
    expect(() => parseArbitrationCsv(filled, 'a.csv', CLASSES, ids)).toThrow(/a\.csv line 2: resolution "fish" for .* is not a known class; expected one of the classes "bird", "cat", "dog"/);
    expect(() => parseArbitrationCsv('id,resolution\ns3://b/p/9.png,cat\n', 'a.csv', CLASSES, ids)).toThrow(/a\.csv line 2: "s3:\/\/b\/p\/9\.png" is not one of the 2 conflicted images/);
    expect(() => parseArbitrationCsv('id,resolution\ns3://b/p/2.png,cat\ns3://b/p/2.png,dog\n', 'a.csv', CLASSES, ids)).toThrow(/line 3: s3:\/\/b\/p\/2\.png is resolved as "cat" on line 2 and as "dog" here/);
    expect(() => parseArbitrationCsv('path,label\n2.png,cat\n', 'a.csv', CLASSES, ids)).toThrow(/a\.csv line 1: the header "path,label" lacks id and resolution/);
    expect(() => parseArbitrationCsv('id,resolution\ns3://b/p/2.png\n', 'a.csv', CLASSES, ids)).toThrow(/line 2: has 1 fields, the header has 2/);
  });
});

describe('addThirdAnnotations', () => {
  it("adds a third annotator's manifest to the conflicts, so the majority of three decides", async () => {
    const items = await listEightConflicts();
    const qa = analyseLabels(items, CLASSES);
    const conflicted = new Set(qa.conflicted);
    // carol's manifest sits elsewhere: one path relative to its root, one image URI, one arbitration-file path.
    tree.write(
      'arb/carol.csv',
      ['path,label', `${name(92)},cat`, `${name(93)},dog`, `${tree.uri(`ds/${name(97)}`)},bird`, `${name(99)},cat`].join('\n'),
    );
    const result = await addThirdAnnotations(items, 'arb/carol.csv', CLASSES, conflicted, tree.open, { root: 'ds', tag: 'carol' });
    expect(result.annotated).toEqual([92, 93, 97, 99].map((i) => tree.uri(`ds/${name(i)}`)));
    const byId = new Map(result.items.map((i) => [i.id, i]));
    expect(byId.get(tree.uri(`ds/${name(92)}`))?.annotations).toEqual([
      { annotator: 'alice', label: 'cat' },
      { annotator: 'bob', label: 'dog' },
      { annotator: 'carol', label: 'cat' },
    ]);
    expect(result.items[0]).toBe(items[0]);
    const decisions = new Map(resolveLabels(result.items, 'majority').map((d) => [d.id, d]));
    const decided = (i: number) => decisions.get(tree.uri(`ds/${name(i)}`));
    expect(decided(92)).toEqual({ id: tree.uri(`ds/${name(92)}`), label: 'cat', how: 'majority' });
    expect(decided(93)).toMatchObject({ label: 'dog', how: 'majority' });
    expect(decided(97)).toMatchObject({ label: 'bird', how: 'majority' });
    expect(decided(99)).toMatchObject({ dropped: 'label-conflict', how: 'tie' });
    expect(decided(94)).toMatchObject({ dropped: 'label-conflict', how: 'tie' });
    expect(decided(0)).toMatchObject({ label: 'cat', how: 'agreed' });
  });

  it("matches the arbitration file's path column when the manifest has no root, and names the annotator from the file", async () => {
    const items = await listEightConflicts();
    const conflicted = new Set(analyseLabels(items, CLASSES).conflicted);
    tree.write('arb/third.csv', `annotator,path,label\ndan,${name(95)},dog\n`);
    const result = await addThirdAnnotations(items, tree.path('arb/third.csv'), CLASSES, conflicted, tree.open);
    expect(result.items.find((i) => i.key === name(95))?.annotations.map((a) => a.annotator)).toEqual(['alice', 'bob', 'dan']);
  });

  it('refuses unknown classes and images that are not conflicted, naming the line', async () => {
    const items = await listEightConflicts();
    const conflicted = new Set(analyseLabels(items, CLASSES).conflicted);
    tree.write('ds/carol.csv', `path,label\n${name(92)},cat\n${name(93)},fish\n`);
    await expect(addThirdAnnotations(items, 'ds/carol.csv', CLASSES, conflicted, tree.open)).rejects.toThrow(
      /carol\.csv line 3: label "fish" for "img\/093\.png" is not a known class; expected one of the classes "bird", "cat", "dog"/,
    );
    tree.write('ds/carol.csv', `path,label\n${name(5)},cat\n`);
    await expect(addThirdAnnotations(items, 'ds/carol.csv', CLASSES, conflicted, tree.open)).rejects.toThrow(/carol\.csv line 2: "img\/005\.png" is not one of the 8 conflicted images/);
    tree.write('ds/carol.csv', `path,label\n../../etc/passwd,cat\n`);
    await expect(addThirdAnnotations(items, 'ds/carol.csv', CLASSES, conflicted, tree.open)).rejects.toThrow(/line 2: "\.\.\/\.\.\/etc\/passwd" is not one of the 8 conflicted images/);
  });
});
