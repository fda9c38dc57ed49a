/**
 * Cumulative true/false positive counts at each distinct score, highest score first: the shared
 * basis of ROC and precision-recall curves (scikit-learn's `_binary_clf_curve`).
 */

export interface RankedCounts {
  /** Distinct scores, descending. */
  thresholds: number[];
  /** Positives with score >= thresholds[i]. */
  truePositives: number[];
  /** Negatives with score >= thresholds[i]. */
  falsePositives: number[];
  positives: number;
  negatives: number;
}

export function rankedCounts(scores: Float64Array, isPositive: Uint8Array): RankedCounts {
  const n = scores.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => (scores[b] as number) - (scores[a] as number));
  const thresholds: number[] = [];
  const truePositives: number[] = [];
  const falsePositives: number[] = [];
  let tp = 0;
  let fp = 0;
  for (let r = 0; r < n; r++) {
    const i = order[r] as number;
    if (isPositive[i] === 1) tp++;
    else fp++;
    const score = scores[i] as number;
    const next = r + 1 < n ? (scores[order[r + 1] as number] as number) : undefined;
    // Tied scores share one threshold, so a point is emitted only at the end of each tie group.
    if (next !== score) {
      thresholds.push(score);
      truePositives.push(tp);
      falsePositives.push(fp);
    }
  }
  return { thresholds, truePositives, falsePositives, positives: tp, negatives: fp };
}
