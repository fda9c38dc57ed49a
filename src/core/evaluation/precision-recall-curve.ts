/** Precision-recall curves and average precision, as scikit-learn 1.2 defines them. */
import { rankedCounts } from './ranked-counts.js';

export interface PrecisionRecallCurve {
  /** Precision per point; the last point is (recall 0, precision 1). */
  precision: number[];
  /** Recall per point, decreasing to 0. */
  recall: number[];
  /** Increasing scores; one fewer than points, since the last point has no threshold. */
  thresholds: number[];
}

/**
 * One point per distinct score, ordered by increasing threshold (decreasing recall), then the
 * fixed end point (recall 0, precision 1). Returns null when there are no positives: recall is
 * undefined.
 */
export function precisionRecallCurve(scores: Float64Array, isPositive: Uint8Array): PrecisionRecallCurve | null {
  const counts = rankedCounts(scores, isPositive);
  if (counts.positives === 0) return null;
  const precision: number[] = [];
  const recall: number[] = [];
  for (let i = counts.thresholds.length - 1; i >= 0; i--) {
    const tp = counts.truePositives[i] as number;
    const fp = counts.falsePositives[i] as number;
    precision.push(tp / (tp + fp));
    recall.push(tp / counts.positives);
  }
  precision.push(1);
  recall.push(0);
  return { precision, recall, thresholds: [...counts.thresholds].reverse() };
}

/**
 * AP = sum over points of (R_n - R_{n-1}) P_n: precision weighted by the recall gained at each
 * threshold, with no interpolation (average_precision_score). Null when the curve is.
 */
export function averagePrecision(curve: PrecisionRecallCurve | null): number | null {
  if (curve === null) return null;
  let ap = 0;
  // The curve runs from high recall to low, so R_n - R_{n-1} is recall[i] - recall[i + 1].
  for (let i = 0; i + 1 < curve.recall.length; i++) {
    ap += ((curve.recall[i] as number) - (curve.recall[i + 1] as number)) * (curve.precision[i] as number);
  }
  return ap;
}
