/** One-vs-rest ROC curves and their area, with scikit-learn's tie handling. */
import { rankedCounts } from './ranked-counts.js';

export interface RocCurve {
  /** False positive rate, from 0 up to 1. */
  fpr: number[];
  /** True positive rate, from 0 up to 1. */
  tpr: number[];
  /**
   * Score at or above which an image counts as positive for each point. The first, which no
   * score reaches, is the highest score + 1 (scikit-learn 1.2's convention; later versions use
   * Infinity, which JSON cannot hold).
   */
  thresholds: number[];
}

/**
 * Every distinct score is a point (roc_curve with drop_intermediate=False); tied scores form one
 * point. Returns null when the labels hold only positives or only negatives, since one of the
 * rates is then undefined.
 */
export function rocCurve(scores: Float64Array, isPositive: Uint8Array): RocCurve | null {
  const counts = rankedCounts(scores, isPositive);
  if (counts.positives === 0 || counts.negatives === 0) return null;
  const first = counts.thresholds[0] as number;
  return {
    fpr: [0, ...counts.falsePositives.map((fp) => fp / counts.negatives)],
    tpr: [0, ...counts.truePositives.map((tp) => tp / counts.positives)],
    thresholds: [first + 1, ...counts.thresholds],
  };
}

/** Trapezoidal area under y(x), as numpy's trapz. */
export function trapezoidArea(x: readonly number[], y: readonly number[]): number {
  let area = 0;
  for (let i = 1; i < x.length; i++) {
    area += ((x[i] as number) - (x[i - 1] as number)) * (((y[i] as number) + (y[i - 1] as number)) / 2);
  }
  return area;
}

/** Area under the ROC curve, or null when it is undefined (see `rocCurve`). */
export function rocAuc(curve: RocCurve | null): number | null {
  return curve === null ? null : trapezoidArea(curve.fpr, curve.tpr);
}
