import { describe, expect, it } from 'vitest';
import { createRng } from '../../../../src/core/rng.js';
import { normalCdf, normalInterval, normalQuantile } from '../../../../src/core/search/normal-distribution.js';
import {
  buildCategorical,
  buildNumericMixture,
  logDensity,
  logMass,
  observationWeights,
  sampleNumeric,
} from '../../../../src/core/search/parzen-estimator.js';

describe('normal distribution helpers', () => {
  it('match reference values (scipy.stats.norm)', () => {
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 7);
    expect(normalCdf(-3)).toBeCloseTo(0.0013498980316301, 9);
    expect(normalQuantile(0.975)).toBeCloseTo(1.959963984540054, 8);
    expect(normalQuantile(1e-6)).toBeCloseTo(-4.753424308822899, 6);
    // A far-tail interval keeps its relative accuracy instead of rounding to 0.
    expect(normalInterval(8, 9) / 6.219831985865787e-16).toBeCloseTo(1, 5);
  });
});

describe('Parzen estimators', () => {
  const mixture = buildNumericMixture([0.2, 0.25, 0.9, 3.5], 0, 4, 1);

  it('gives a density that integrates to 1 over the bounds', () => {
    let integral = 0;
    const steps = 40_000;
    for (let i = 0; i < steps; i++) integral += Math.exp(logDensity(mixture, ((i + 0.5) / steps) * 4)) * (4 / steps);
    expect(integral).toBeCloseTo(1, 4);
  });

  it('gives integer intervals masses that sum to 1', () => {
    const ints = buildNumericMixture([2, 3, 3, 7], 0.5, 8.5, 1);
    let total = 0;
    for (let v = 1; v <= 8; v++) total += Math.exp(logMass(ints, v - 0.5, v + 0.5));
    expect(total).toBeCloseTo(1, 6);
  });

  it('samples inside the bounds and concentrates near the observations', () => {
    const rng = createRng(1);
    const xs = Array.from({ length: 4000 }, () => sampleNumeric(mixture, rng));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThanOrEqual(4);
    // Two close observations at 0.2 and 0.25 make [0, 0.5] about twice as likely as its 1/8 share of the range.
    expect(xs.filter((x) => x < 0.5).length / xs.length).toBeGreaterThan(0.22);
  });

  it('weights choices by count plus an even prior', () => {
    const p = buildCategorical([0, 0, 1], 3, 1);
    [(2 + 1 / 3) / 4, (1 + 1 / 3) / 4, 1 / 3 / 4].forEach((want, i) => expect(p[i]).toBeCloseTo(want, 12));
  });

  it('down-weights all but the newest 25 observations', () => {
    const w = observationWeights(30);
    expect(w.length).toBe(30);
    expect(w[0]).toBeCloseTo(1 / 30, 12);
    expect(w[4]).toBe(1);
    expect(w.slice(5).every((x) => x === 1)).toBe(true);
    expect(observationWeights(3)).toEqual([1, 1, 1]);
  });
});
