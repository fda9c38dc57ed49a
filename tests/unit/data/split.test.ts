import { describe, expect, it } from 'vitest';
import { createRng } from '../../../src/core/rng.js';
import { stratifiedSplit } from '../../../src/data/split.js';

/** 1000 labels over 4 classes of unequal size (100, 200, 300, 400), in class order. */
const labels = Array.from({ length: 1000 }, (_, i) => (i < 100 ? 0 : i < 300 ? 1 : i < 600 ? 2 : 3));
const fractions = { train: 0.7, val: 0.2, test: 0.1 };

function countPerClass(indices: number[]): number[] {
  const counts = [0, 0, 0, 0];
  for (const i of indices) counts[labels[i] as number]! += 1;
  return counts;
}

describe('seeded rng', () => {
  it('repeats for a seed, differs across seeds, stays in range', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const seqA = Array.from({ length: 50 }, () => a.next());
    expect(Array.from({ length: 50 }, () => b.next())).toEqual(seqA);
    expect(Array.from({ length: 50 }, () => c.next())).not.toEqual(seqA);
    expect(seqA.every((x) => x >= 0 && x < 1)).toBe(true);
    const rng = createRng(7);
    const hits = new Array<number>(6).fill(0);
    for (let i = 0; i < 6000; i++) hits[rng.int(6)]! += 1;
    expect(Math.min(...hits)).toBeGreaterThan(850);
    expect(() => createRng(1.5)).toThrow(/seed must be a safe integer, got 1.5/);
    expect(() => rng.int(0)).toThrow(/got 0/);
  });
});

describe('stratifiedSplit', () => {
  it('splits every class in the requested proportions', () => {
    const split = stratifiedSplit(labels, fractions, 1);
    expect(countPerClass(split.train)).toEqual([70, 140, 210, 280]);
    expect(countPerClass(split.val)).toEqual([20, 40, 60, 80]);
    expect(countPerClass(split.test)).toEqual([10, 20, 30, 40]);
  });

  it('covers every index exactly once', () => {
    const split = stratifiedSplit(labels, fractions, 1);
    const all = [...split.train, ...split.val, ...split.test].sort((a, b) => a - b);
    expect(all).toEqual(labels.map((_, i) => i));
  });

  it('gives the same split for the same seed and a different one for another seed', () => {
    const a = stratifiedSplit(labels, fractions, 123);
    expect(stratifiedSplit(labels, fractions, 123)).toEqual(a);
    const b = stratifiedSplit(labels, fractions, 124);
    expect(b.val).not.toEqual(a.val);
    expect(new Set(b.val)).not.toEqual(new Set(a.val));
  });

  it('interleaves classes rather than returning them in label order', () => {
    const { train } = stratifiedSplit(labels, fractions, 5);
    const firstHundred = new Set(train.slice(0, 100).map((i) => labels[i]));
    expect(firstHundred.size).toBe(4);
  });

  it('allows an empty test split when a separate test folder exists', () => {
    const split = stratifiedSplit(labels, { train: 0.9, val: 0.1, test: 0 }, 9);
    expect(split.test).toEqual([]);
    expect(countPerClass(split.val)).toEqual([10, 20, 30, 40]);
  });

  it('rejects fractions that do not sum to 1, naming them', () => {
    expect(() => stratifiedSplit(labels, { train: 0.7, val: 0.2, test: 0.2 }, 1)).toThrow(/sum to 1.*0.7.*0.2.*0.2/);
    expect(() => stratifiedSplit(labels, { train: 1.1, val: -0.1, test: 0 }, 1)).toThrow(/train must be in \[0, 1\], got 1.1/);
    expect(() => stratifiedSplit([0, 1, -1], fractions, 1)).toThrow(/got -1 at index 2/);
  });
});
