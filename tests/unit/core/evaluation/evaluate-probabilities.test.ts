import { describe, expect, it } from 'vitest';
import { evaluateProbabilities } from '../../../../src/core/evaluation/index.js';

/**
 * Two classes, five images; every probability is exact in float32. Class-1 scores
 * 0.75(+) 0.5(-) 0.5(+) 0.25(+) 0.125(-): one tie across a positive and a negative, and rows 2
 * and 3 tie between the classes (argmax picks class 0).
 */
const p1 = [0.75, 0.5, 0.5, 0.25, 0.125];
const probs = new Float32Array(p1.flatMap((p) => [1 - p, p]));
const labels = [1, 0, 1, 1, 0];
const names = ['cat', 'dog'];

describe('evaluateProbabilities on a hand-computed case', () => {
  const report = evaluateProbabilities(probs, labels, names, { topK: [1, 2], calibrationBins: 4 });

  it('counts argmax hits with ties going to the lower class', () => {
    expect(report.accuracy).toBeCloseTo(3 / 5, 12);
    expect(report.confusion).toEqual([
      [2, 0],
      [2, 1],
    ]);
    expect(report.topK).toEqual([
      { k: 1, accuracy: 3 / 5 },
      { k: 2, accuracy: 1 },
    ]);
  });

  it('gives per-class and averaged precision, recall and F1', () => {
    const [cat, dog] = report.perClass;
    expect(cat).toMatchObject({ className: 'cat', support: 2, precision: 0.5, recall: 1 });
    expect(cat?.f1).toBeCloseTo(2 / 3, 12);
    expect(dog).toMatchObject({ className: 'dog', support: 3, precision: 1 });
    expect(dog?.recall).toBeCloseTo(1 / 3, 12);
    expect(dog?.f1).toBeCloseTo(1 / 2, 12);
    expect(report.macro.precision).toBeCloseTo(0.75, 12);
    expect(report.macro.recall).toBeCloseTo(2 / 3, 12);
    expect(report.macro.f1).toBeCloseTo(7 / 12, 12);
    expect(report.weighted.precision).toBeCloseTo(0.8, 12);
    expect(report.weighted.recall).toBeCloseTo(3 / 5, 12);
    expect(report.weighted.f1).toBeCloseTo(17 / 30, 12);
    expect(report.micro.f1).toBeCloseTo(3 / 5, 12);
  });

  it('merges tied scores into one ROC point and counts a tie as half a win in the AUC', () => {
    const roc = report.curves[1]?.roc;
    expect(roc?.fpr).toEqual([0, 0, 0.5, 0.5, 1]);
    expect(roc?.tpr.map((x) => x * 3)).toEqual([0, 1, 2, 3, 3]);
    expect(roc?.thresholds).toEqual([1.75, 0.75, 0.5, 0.25, 0.125]);
    // Pairs (positive, negative) ranked right: 4 wins + 1 tie out of 6.
    expect(report.perClass[1]?.rocAuc).toBeCloseTo(4.5 / 6, 12);
    expect(report.perClass[0]?.rocAuc).toBeCloseTo(4.5 / 6, 12);
    expect(report.macro.rocAuc).toBeCloseTo(0.75, 12);
  });

  it('builds the PR curve from the lowest threshold up and sums (R_n - R_n-1) P_n', () => {
    const pr = report.curves[1]?.precisionRecall;
    expect(pr?.thresholds).toEqual([0.125, 0.25, 0.5, 0.75]);
    expect(pr?.precision.map((x) => Number(x.toFixed(12)))).toEqual([0.6, 0.75, Number((2 / 3).toFixed(12)), 1, 1]);
    expect(pr?.recall.map((x) => x * 3)).toEqual([3, 3, 2, 1, 0]);
    expect(report.perClass[1]?.averagePrecision).toBeCloseTo(1 / 4 + 2 / 9 + 1 / 3, 12);
  });

  it('bins confidence for the reliability diagram and ECE', () => {
    const { reliability, ece } = report.calibration;
    expect(reliability.map((b) => b.count)).toEqual([0, 0, 2, 3]);
    expect(reliability[0]).toEqual({ lower: 0, upper: 0.25, count: 0, meanConfidence: null, accuracy: null });
    expect(reliability[2]).toMatchObject({ meanConfidence: 0.5, accuracy: 0.5 });
    expect(reliability[3]?.meanConfidence).toBeCloseTo(2.375 / 3, 12);
    expect(reliability[3]?.accuracy).toBeCloseTo(2 / 3, 12);
    expect(ece).toBeCloseTo((3 / 5) * 0.125, 12);
  });

  it('survives a JSON round trip unchanged', () => {
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });
});

describe('evaluateProbabilities edge cases', () => {
  it('reports null AUC and AP for a class with no images and averages only defined classes', () => {
    const r = evaluateProbabilities([0.75, 0.25, 0, 0.25, 0.75, 0], [0, 1], ['a', 'b', 'c']);
    expect(r.perClass[2]).toMatchObject({ support: 0, rocAuc: null, averagePrecision: null, precision: 0, f1: 0 });
    expect(r.curves[2]).toEqual({ className: 'c', roc: null, precisionRecall: null });
    expect(r.macro.rocAuc).toBe(1);
    expect(r.macro.averagePrecision).toBe(1);
  });

  it('defaults to top-1 and top-5 only when there are more than 5 classes', () => {
    const three = evaluateProbabilities([1, 0, 0], [0], ['a', 'b', 'c']);
    expect(three.topK.map((t) => t.k)).toEqual([1]);
    const row = [0.5, 0.1, 0.1, 0.1, 0.1, 0.1];
    const six = evaluateProbabilities(row, [5], ['a', 'b', 'c', 'd', 'e', 'f']);
    expect(six.topK).toEqual([
      { k: 1, accuracy: 0 },
      { k: 5, accuracy: 0 },
    ]);
    expect(six.calibration.bins).toBe(15);
  });

  it('rejects inputs with errors naming the bad value', () => {
    expect(() => evaluateProbabilities([0.5, 0.5, 1], [0], ['a', 'b'])).toThrow(/3 values but 1 labels x 2 classes need 2/);
    expect(() => evaluateProbabilities([0.5, 0.5], [2], ['a', 'b'])).toThrow(/labels\[0\] is 2, expected an integer class index in \[0, 2\)/);
    expect(() => evaluateProbabilities([2.5, -1.5], [0], ['a', 'b'])).toThrow(/probabilities\[row 0, class 0\] is 2.5/);
    expect(() => evaluateProbabilities([0.2, 0.3, 0.5, 0.5], [0, 1], ['a', 'b'])).toThrow(/row 0 sums to 0.5.*softmax/);
    expect(() => evaluateProbabilities([0.5, 0.5], [0], ['a', 'b'], { topK: [3] })).toThrow(/k in \[1, 2\], got 3/);
    expect(() => evaluateProbabilities([0.5, 0.5], [0], ['a', 'b'], { calibrationBins: 0 })).toThrow(/calibrationBins .* got 0/);
    expect(() => evaluateProbabilities([], [], ['a', 'b'])).toThrow(/at least one labelled image/);
    expect(() => evaluateProbabilities([1], [0], ['a'])).toThrow(/at least 2 classes, got 1/);
  });
});
