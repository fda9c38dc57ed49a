import { describe, expect, it } from 'vitest';
import { createRng } from '../../../src/core/rng.js';
import { groupedStratifiedSplit, stratifiedSplit, type SplitIndices } from '../../../src/data/split.js';

const fractions = { train: 0.7, val: 0.2, test: 0.1 };
const NAMES = ['train', 'val', 'test'] as const;

/** Labels over `classes` classes of unequal size and groups of 1..maxGroup items, some mixed-class. */
function dataset(seed: number, n: number, classes: number, maxGroup: number): { labels: Int32Array; groups: (string | undefined)[] } {
  const rng = createRng(seed);
  const labels = new Int32Array(n);
  const groups: (string | undefined)[] = [];
  let i = 0;
  let g = 0;
  while (i < n) {
    const size = Math.min(n - i, 1 + rng.int(maxGroup));
    // Skewed class sizes: class c drawn with weight c + 1.
    const label = Math.floor(Math.sqrt(rng.next()) * classes);
    const id = size === 1 && rng.int(2) === 0 ? undefined : `g${g++}`;
    for (let k = 0; k < size; k++, i++) {
      // One group in ten mixes in a second class.
      labels[i] = k > 0 && g % 10 === 0 ? (label + 1) % classes : label;
      groups.push(id);
    }
  }
  return { labels, groups };
}

function checkPartition(split: SplitIndices, n: number): void {
  const seen = new Uint8Array(n);
  for (const name of NAMES) for (const i of split[name]) seen[i] = (seen[i] as number) + 1;
  expect(seen.every((v) => v === 1)).toBe(true);
}

function splitOf(split: SplitIndices, n: number): Int8Array {
  const where = new Int8Array(n).fill(-1);
  NAMES.forEach((name, s) => split[name].forEach((i) => (where[i] = s)));
  return where;
}

describe('groupedStratifiedSplit', () => {
  it('never splits a group, over many seeds and data sets', () => {
    for (let seed = 0; seed < 40; seed++) {
      const { labels, groups } = dataset(seed, 400 + seed * 37, 2 + (seed % 7), 1 + (seed % 12));
      const split = groupedStratifiedSplit(labels, groups, fractions, seed);
      checkPartition(split, labels.length);
      const where = splitOf(split, labels.length);
      const home = new Map<string, number>();
      groups.forEach((id, i) => {
        if (id === undefined) return;
        const s = where[i] as number;
        if (!home.has(id)) home.set(id, s);
        expect(home.get(id), `seed ${seed} group ${id}`).toBe(s);
      });
    }
  });

  it('keeps every class close to the fractions', () => {
    for (const seed of [1, 2, 3]) {
      const maxGroup = 5;
      const { labels, groups } = dataset(seed, 20_000, 10, maxGroup);
      const split = groupedStratifiedSplit(labels, groups, fractions, seed);
      const where = splitOf(split, labels.length);
      const perClass = Array.from({ length: 10 }, () => [0, 0, 0]);
      labels.forEach((c, i) => ((perClass[c] as number[])[where[i] as number]! += 1));
      perClass.forEach((counts, c) => {
        const total = counts.reduce((a, b) => a + b, 0);
        NAMES.forEach((name, s) => {
          // Within a group's size of the exact target.
          expect(Math.abs((counts[s] as number) - total * fractions[name]), `seed ${seed} class ${c} ${name}`).toBeLessThanOrEqual(maxGroup);
        });
      });
    }
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const { labels, groups } = dataset(4, 3000, 5, 6);
    const a = groupedStratifiedSplit(labels, groups, fractions, 9);
    expect(groupedStratifiedSplit(labels, groups, fractions, 9)).toEqual(a);
    const b = groupedStratifiedSplit(labels, groups, fractions, 10);
    expect(b.val).not.toEqual(a.val);
  });

  it('without groups, splits like stratifiedSplit in counts', () => {
    const labels = Int32Array.from({ length: 1000 }, (_, i) => (i < 100 ? 0 : i < 300 ? 1 : i < 600 ? 2 : 3));
    const split = groupedStratifiedSplit(labels, new Array<undefined>(1000).fill(undefined), fractions, 1);
    const reference = stratifiedSplit(labels, fractions, 1);
    const counts = (indices: number[]): number[] => [0, 1, 2, 3].map((c) => indices.filter((i) => labels[i] === c).length);
    for (const name of NAMES) expect(counts(split[name])).toEqual(counts(reference[name]));
    expect(counts(split.train)).toEqual([70, 140, 210, 280]);
  });

  it('sends the first items of rare classes to train', () => {
    // Class 5 has one item, class 6 two, class 7 three; the rest is plentiful.
    const labels = Int32Array.from([...Array.from({ length: 300 }, (_, i) => i % 5), 5, 6, 6, 7, 7, 7]);
    for (let seed = 0; seed < 20; seed++) {
      const split = groupedStratifiedSplit(labels, new Array<undefined>(labels.length).fill(undefined), fractions, seed);
      const where = splitOf(split, labels.length);
      const of = (c: number): number[] => [...labels.keys()].filter((i) => labels[i] === c).map((i) => where[i] as number).sort();
      expect(of(5)).toEqual([0]);
      expect(of(6)).toEqual([0, 0]);
      expect(of(7)).toEqual([0, 0, 1]);
      // A group that brings a class train lacks goes to train, even when large.
      const grouped = groupedStratifiedSplit(Int32Array.from([0, 0, 0, 1, 1, 1, 1]), ['a', 'b', 'c', 'x', 'x', 'x', 'x'], fractions, seed);
      expect(grouped.train).toEqual(expect.arrayContaining([3, 4, 5, 6]));
    }
  });

  it('leaves a split with fraction 0 empty', () => {
    const { labels, groups } = dataset(5, 2000, 4, 8);
    const split = groupedStratifiedSplit(labels, groups, { train: 0.8, val: 0.2, test: 0 }, 3);
    expect(split.test).toEqual([]);
    checkPartition(split, labels.length);
    expect(Math.abs(split.val.length - 400)).toBeLessThanOrEqual(16);
  });

  it('treats the groups of a few large ones sensibly', () => {
    // One group holds 60% of class 0: it must go somewhere whole; train is the only split it fits.
    const labels = new Int32Array(100);
    const groups = Array.from({ length: 100 }, (_, i) => (i < 60 ? 'big' : undefined));
    const split = groupedStratifiedSplit(labels, groups, fractions, 1);
    expect(split.train).toEqual(expect.arrayContaining(Array.from({ length: 60 }, (_, i) => i)));
    expect(split.train.length).toBe(70);
    expect(split.val.length).toBe(20);
    expect(split.test.length).toBe(10);
  });

  it('handles 200,000 items quickly', () => {
    const { labels, groups } = dataset(6, 200_000, 100, 4);
    const started = performance.now();
    const split = groupedStratifiedSplit(labels, groups, fractions, 1);
    const ms = performance.now() - started;
    console.log(`groupedStratifiedSplit of 200,000 items, ${new Set(groups).size} groups, 100 classes: ${ms.toFixed(0)} ms`);
    checkPartition(split, labels.length);
    expect(ms).toBeLessThan(5000);
  });

  it('validates arguments', () => {
    const labels = Int32Array.from([0, 1]);
    expect(() => groupedStratifiedSplit(labels, ['a'], fractions, 1)).toThrow(/groups must be an array as long as labels \(2\), got length 1/);
    expect(() => groupedStratifiedSplit(Int32Array.from([0, -1]), ['a', 'b'], fractions, 1)).toThrow(/labels must be >= 0, got -1 at index 1/);
    expect(() => groupedStratifiedSplit(labels, ['a', 5 as unknown as string], fractions, 1)).toThrow(/groups\[1\] must be a string or undefined, got 5/);
    expect(() => groupedStratifiedSplit(labels, ['a', 'b'], { train: 0.5, val: 0.2, test: 0.1 }, 1)).toThrow(/must sum to 1/);
    expect(() => groupedStratifiedSplit(labels, ['a', 'b'], fractions, 0.5)).toThrow(/seed must be a safe integer/);
    expect(groupedStratifiedSplit(new Int32Array(0), [], fractions, 1)).toEqual({ train: [], val: [], test: [] });
  });
});
