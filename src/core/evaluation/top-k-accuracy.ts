/** Top-k accuracy from probabilities. */
import type { LabelVector, MatrixShape, ProbabilityMatrix } from './probability-input.js';

/**
 * Fraction of images whose true class is among the `k` most probable. Ties rank the lower class
 * index first, the same rule as argmax, so top-1 always equals accuracy. (scikit-learn's
 * top_k_accuracy_score ranks tied classes the other way round; the two agree whenever no class
 * ties the true class's probability.)
 */
export function topKAccuracy(probs: ProbabilityMatrix, labels: LabelVector, shape: MatrixShape, k: number): number {
  if (!Number.isInteger(k) || k < 1 || k > shape.numClasses) {
    throw new RangeError(`top-k needs an integer k in [1, ${shape.numClasses}], got ${String(k)}`);
  }
  let hits = 0;
  for (let i = 0; i < shape.count; i++) {
    const row = i * shape.numClasses;
    const label = labels[i] as number;
    const own = probs[row + label] as number;
    // Rank of the true class = classes that outrank it; stop counting once it is out of the top k.
    let rank = 0;
    for (let c = 0; c < shape.numClasses && rank < k; c++) {
      const p = probs[row + c] as number;
      if (p > own || (p === own && c < label)) rank++;
    }
    if (rank < k) hits++;
  }
  return hits / shape.count;
}
