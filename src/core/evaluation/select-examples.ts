/** Which test images to explain (Grad-CAM): a bounded, deterministic pick from the probabilities. */
import { checkProbabilityInput, type LabelVector, type ProbabilityMatrix } from './probability-input.js';

export interface ExplanationExample {
  /** Row of the image in the test split. */
  index: number;
  trueClass: number;
  predictedClass: number;
  /** Probability of the predicted class. */
  confidence: number;
  correct: boolean;
}

/**
 * Per true class, up to `perClass` correctly classified images (the most confident first) and
 * up to `perClass` misclassified ones (the most confident mistakes first). Taken rank by rank
 * over the classes (each class's first pick, then each class's second, ...) until `maxImages`,
 * so a cap spreads over the classes instead of filling up with the first ones. Ties go to the
 * lower image index.
 */
export function selectExplanationExamples(
  probs: ProbabilityMatrix,
  labels: LabelVector,
  numClasses: number,
  perClass: number,
  maxImages = Infinity,
): ExplanationExample[] {
  if (!Number.isInteger(perClass) || perClass < 1) throw new RangeError(`examplesPerClass must be an integer >= 1, got ${String(perClass)}`);
  if (!(maxImages >= 1)) throw new RangeError(`maxImages must be >= 1, got ${String(maxImages)}`);
  const shape = checkProbabilityInput(probs, labels, numClasses);
  const correct: ExplanationExample[][] = Array.from({ length: numClasses }, () => []);
  const wrong: ExplanationExample[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < shape.count; i++) {
    let predicted = 0;
    let confidence = -Infinity;
    for (let c = 0; c < numClasses; c++) {
      const p = probs[i * numClasses + c] as number;
      if (p > confidence) {
        confidence = p;
        predicted = c;
      }
    }
    const trueClass = labels[i] as number;
    const example = { index: i, trueClass, predictedClass: predicted, confidence, correct: predicted === trueClass };
    (example.correct ? correct : wrong)[trueClass]?.push(example);
  }
  const byConfidence = (a: ExplanationExample, b: ExplanationExample) => b.confidence - a.confidence || a.index - b.index;
  for (const list of [...correct, ...wrong]) list.sort(byConfidence);
  const picked: ExplanationExample[] = [];
  for (let rank = 0; rank < perClass; rank++) {
    for (let c = 0; c < numClasses; c++) {
      for (const list of [correct[c], wrong[c]]) {
        const example = list?.[rank];
        if (example === undefined) continue;
        if (picked.length >= maxImages) return picked;
        picked.push(example);
      }
    }
  }
  return picked;
}
