import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { evaluateProbabilities, type EvaluationReport } from '../../../../src/core/evaluation/index.js';

/** Written by scripts/make-metric-goldens.py from scikit-learn; see the script for each case. */
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../fixtures/metrics');
const TOLERANCE = 1e-6;

interface Golden {
  description: string;
  classNames: string[];
  options: { topK: number[]; calibrationBins: number };
  labels: number[];
  probs: number[];
  expected: Omit<EvaluationReport, 'curves' | 'count' | 'classNames'> & {
    curves: ({ class: number } & Pick<EvaluationReport['curves'][number], 'roc' | 'precisionRecall'>)[];
  };
}

/** Lists every place where `actual` differs from `expected` by more than the tolerance. */
function differences(actual: unknown, expected: unknown, at: string, out: string[]): string[] {
  if (typeof expected === 'number') {
    if (typeof actual !== 'number' || !(Math.abs(actual - expected) <= TOLERANCE)) out.push(`${at}: got ${String(actual)}, want ${expected}`);
  } else if (expected === null) {
    if (actual !== null) out.push(`${at}: got ${JSON.stringify(actual)}, want null`);
  } else if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      out.push(`${at}: got length ${Array.isArray(actual) ? actual.length : 'not an array'}, want ${expected.length}`);
    } else expected.forEach((e, i) => differences(actual[i], e, `${at}[${i}]`, out));
  } else if (typeof expected === 'object') {
    if (typeof actual !== 'object' || actual === null) out.push(`${at}: got ${String(actual)}, want an object`);
    else for (const [k, e] of Object.entries(expected)) differences((actual as Record<string, unknown>)[k], e, `${at}.${k}`, out);
  } else if (actual !== expected) out.push(`${at}: got ${String(actual)}, want ${String(expected)}`);
  return out;
}

const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json')).sort();

describe('metrics match scikit-learn goldens to 1e-6', () => {
  it('finds the golden files', () => {
    expect(files.length).toBeGreaterThanOrEqual(4);
  });

  for (const file of files) {
    const golden = JSON.parse(readFileSync(path.join(FIXTURES, file), 'utf8')) as Golden;
    it(`${file}: ${golden.description}`, () => {
      const report = evaluateProbabilities(golden.probs, golden.labels, golden.classNames, golden.options);
      const { curves, ...scalars } = golden.expected;
      const out = differences(report, scalars, 'report', []);
      for (const curve of curves) {
        differences(report.curves[curve.class], { roc: curve.roc, precisionRecall: curve.precisionRecall }, `curves[${curve.class}]`, out);
      }
      expect(out.slice(0, 10)).toEqual([]);
    });
  }

  it('agrees for float32 input within float32 rounding', () => {
    const golden = JSON.parse(readFileSync(path.join(FIXTURES, 'random-200x4.json'), 'utf8')) as Golden;
    const report = evaluateProbabilities(new Float32Array(golden.probs), golden.labels, golden.classNames, golden.options);
    expect(report.accuracy).toBeCloseTo(golden.expected.accuracy, 12);
    expect(report.macro.rocAuc).toBeCloseTo(golden.expected.macro.rocAuc as number, 4);
  });
});
