/**
 * Checks for the inputs every metric here shares: a row-major `count x numClasses` matrix of
 * per-image class probabilities and one integer label per image.
 */

/** Per-image class probabilities, row-major `count x numClasses`. */
export type ProbabilityMatrix = Float32Array | Float64Array | readonly number[];

/** Integer class index per image. */
export type LabelVector = Int32Array | Uint8Array | Uint16Array | Uint32Array | readonly number[];

export interface MatrixShape {
  count: number;
  numClasses: number;
}

/**
 * A row may miss 1 by float32 rounding of a softmax; anything further off is more likely logits
 * or sigmoid outputs, for which ECE and ROC thresholds would mean something else.
 */
const ROW_SUM_TOLERANCE = 1e-3;

/** Validates shapes, label range and that every row is a probability distribution. */
export function checkProbabilityInput(probs: ProbabilityMatrix, labels: LabelVector, numClasses: number): MatrixShape {
  if (!Number.isInteger(numClasses) || numClasses < 2) {
    throw new RangeError(`evaluation needs at least 2 classes, got ${String(numClasses)}`);
  }
  const count = labels.length;
  if (count === 0) throw new RangeError('evaluation needs at least one labelled image, got 0 labels');
  if (probs.length !== count * numClasses) {
    throw new RangeError(
      `probabilities has ${probs.length} values but ${count} labels x ${numClasses} classes need ${count * numClasses}`,
    );
  }
  for (let i = 0; i < count; i++) {
    const label = labels[i] as number;
    if (!Number.isInteger(label) || label < 0 || label >= numClasses) {
      throw new RangeError(`labels[${i}] is ${String(label)}, expected an integer class index in [0, ${numClasses})`);
    }
    let sum = 0;
    for (let c = 0; c < numClasses; c++) {
      const p = probs[i * numClasses + c] as number;
      if (!Number.isFinite(p) || p < 0 || p > 1 + ROW_SUM_TOLERANCE) {
        throw new RangeError(`probabilities[row ${i}, class ${c}] is ${String(p)}, expected a probability in [0, 1]`);
      }
      sum += p;
    }
    if (Math.abs(sum - 1) > ROW_SUM_TOLERANCE) {
      throw new RangeError(`probabilities row ${i} sums to ${sum}, expected 1 (apply softmax to logits first)`);
    }
  }
  return { count, numClasses };
}

/** Column `c` of the matrix as doubles: the one-vs-rest scores of class `c`. */
export function classScores(probs: ProbabilityMatrix, shape: MatrixShape, c: number): Float64Array {
  const out = new Float64Array(shape.count);
  for (let i = 0; i < shape.count; i++) out[i] = probs[i * shape.numClasses + c] as number;
  return out;
}

/** 1 where the label is `c`, else 0. */
export function classIndicator(labels: LabelVector, c: number): Uint8Array {
  const out = new Uint8Array(labels.length);
  for (let i = 0; i < labels.length; i++) out[i] = labels[i] === c ? 1 : 0;
  return out;
}
