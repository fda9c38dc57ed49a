import { describe, expect, it } from 'vitest';
import { argmaxRows, classificationMetrics, percentile } from '../../../src/core/metrics.js';

describe('classification metrics', () => {
  // Hand-computed: 3 classes, 8 samples.
  const actual = [0, 0, 0, 1, 1, 2, 2, 2];
  const predicted = [0, 0, 1, 1, 2, 2, 2, 0];

  it('matches hand-computed values', () => {
    const m = classificationMetrics(actual, predicted, ['a', 'b', 'c']);
    expect(m.accuracy).toBeCloseTo(5 / 8, 12);
    expect(m.confusion).toEqual([
      [2, 1, 0],
      [0, 1, 1],
      [1, 0, 2],
    ]);
    const [a, b, c] = m.perClass;
    expect(a?.precision).toBeCloseTo(2 / 3, 12);
    expect(a?.recall).toBeCloseTo(2 / 3, 12);
    expect(b?.precision).toBeCloseTo(1 / 2, 12);
    expect(b?.recall).toBeCloseTo(1 / 2, 12);
    expect(c?.precision).toBeCloseTo(2 / 3, 12);
    expect(c?.f1).toBeCloseTo(2 / 3, 12);
    expect(m.macroF1).toBeCloseTo((2 / 3 + 1 / 2 + 2 / 3) / 3, 12);
    expect(m.perClass.map((x) => x.support)).toEqual([3, 2, 3]);
  });

  it('gives 0 rather than NaN for a class never predicted', () => {
    const m = classificationMetrics([0, 1], [0, 0], ['a', 'b']);
    expect(m.perClass[1]).toMatchObject({ precision: 0, recall: 0, f1: 0 });
  });

  it('rejects labels outside the class list', () => {
    expect(() => classificationMetrics([0, 3], [0, 1], ['a', 'b'])).toThrow(/out of range at 1/);
  });

  it('argmax picks the most probable class per row', () => {
    expect(Array.from(argmaxRows([0.1, 0.9, 0.7, 0.3, 0.5, 0.5], 2))).toEqual([1, 0, 0]);
    expect(() => argmaxRows([1, 2, 3], 2)).toThrow(/not a multiple/);
  });

  it('nearest-rank percentiles', () => {
    const xs = [5, 1, 4, 2, 3, 6, 7, 8, 9, 10];
    expect(percentile(xs, 50)).toBe(5);
    expect(percentile(xs, 95)).toBe(10);
    expect(percentile(xs, 0)).toBe(1);
  });
});
