/** Classification metrics from predicted labels; pure, so they can be recomputed from saved outputs. */
import type { ClassMetrics } from './manifests.js';

export interface ClassificationMetrics {
  accuracy: number;
  macroF1: number;
  perClass: ClassMetrics[];
  /** confusion[actual][predicted] */
  confusion: number[][];
  count: number;
}

/** Index of the largest probability in each row of a `count x numClasses` matrix. */
export function argmaxRows(probabilities: ArrayLike<number>, numClasses: number): Int32Array {
  if (numClasses < 1) throw new RangeError(`numClasses must be >= 1, got ${numClasses}`);
  if (probabilities.length % numClasses !== 0) {
    throw new RangeError(`probabilities length ${probabilities.length} is not a multiple of numClasses ${numClasses}`);
  }
  const count = probabilities.length / numClasses;
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    let best = 0;
    let bestValue = -Infinity;
    for (let c = 0; c < numClasses; c++) {
      const v = probabilities[i * numClasses + c] as number;
      if (v > bestValue) {
        bestValue = v;
        best = c;
      }
    }
    out[i] = best;
  }
  return out;
}

export function classificationMetrics(actual: ArrayLike<number>, predicted: ArrayLike<number>, classNames: string[]): ClassificationMetrics {
  if (actual.length !== predicted.length) {
    throw new RangeError(`actual has ${actual.length} labels but predicted has ${predicted.length}`);
  }
  const k = classNames.length;
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] as number;
    const p = predicted[i] as number;
    if (a < 0 || a >= k || p < 0 || p >= k) throw new RangeError(`label out of range at ${i}: actual ${a}, predicted ${p}, classes ${k}`);
    (confusion[a] as number[])[p] = ((confusion[a] as number[])[p] as number) + 1;
    if (a === p) correct++;
  }
  const perClass: ClassMetrics[] = classNames.map((className, c) => {
    const tp = (confusion[c] as number[])[c] as number;
    const support = (confusion[c] as number[]).reduce((s, v) => s + v, 0);
    const predictedAs = confusion.reduce((s, row) => s + (row[c] as number), 0);
    const precision = predictedAs === 0 ? 0 : tp / predictedAs;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { className, precision, recall, f1, support };
  });
  const macroF1 = k === 0 ? 0 : perClass.reduce((s, m) => s + m.f1, 0) / k;
  return { accuracy: actual.length === 0 ? 0 : correct / actual.length, macroF1, perClass, confusion, count: actual.length };
}

/** Nearest-rank percentile of unsorted samples (p in [0, 100]). */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}
