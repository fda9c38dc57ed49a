/** Calibration of the top prediction: expected calibration error and reliability-diagram bins. */
import type { LabelVector, MatrixShape, ProbabilityMatrix } from './probability-input.js';

export interface ReliabilityBin {
  /** Confidence range [lower, upper); the last bin also holds confidence exactly 1. */
  lower: number;
  upper: number;
  count: number;
  /** Mean of the max probability over the bin's images; null for an empty bin. */
  meanConfidence: number | null;
  /** Fraction of the bin's images whose argmax is the true class; null for an empty bin. */
  accuracy: number | null;
}

export interface CalibrationReport {
  bins: number;
  /** Expected calibration error: sum over bins of (count / total) * |accuracy - meanConfidence|. */
  ece: number;
  reliability: ReliabilityBin[];
}

/**
 * Bins images by confidence (their max probability) into `bins` equal-width bins over [0, 1].
 * The predicted class is the argmax with ties to the lower index, as for accuracy.
 */
export function calibration(probs: ProbabilityMatrix, labels: LabelVector, shape: MatrixShape, bins: number): CalibrationReport {
  if (!Number.isInteger(bins) || bins < 1) {
    throw new RangeError(`calibrationBins must be an integer >= 1, got ${String(bins)}`);
  }
  const counts = new Array<number>(bins).fill(0);
  const confidenceSums = new Array<number>(bins).fill(0);
  const correctCounts = new Array<number>(bins).fill(0);
  for (let i = 0; i < shape.count; i++) {
    const row = i * shape.numClasses;
    let predicted = 0;
    let confidence = -Infinity;
    for (let c = 0; c < shape.numClasses; c++) {
      const p = probs[row + c] as number;
      if (p > confidence) {
        confidence = p;
        predicted = c;
      }
    }
    const bin = Math.min(bins - 1, Math.floor(confidence * bins));
    counts[bin] = (counts[bin] as number) + 1;
    confidenceSums[bin] = (confidenceSums[bin] as number) + confidence;
    if (predicted === labels[i]) correctCounts[bin] = (correctCounts[bin] as number) + 1;
  }
  let ece = 0;
  const reliability: ReliabilityBin[] = counts.map((count, b) => {
    if (count === 0) return { lower: b / bins, upper: (b + 1) / bins, count, meanConfidence: null, accuracy: null };
    const meanConfidence = (confidenceSums[b] as number) / count;
    const accuracy = (correctCounts[b] as number) / count;
    ece += (count / shape.count) * Math.abs(accuracy - meanConfidence);
    return { lower: b / bins, upper: (b + 1) / bins, count, meanConfidence, accuracy };
  });
  return { bins, ece, reliability };
}
