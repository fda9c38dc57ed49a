/**
 * The phase-4 metric report, computed from saved per-image probabilities so that it can be
 * recomputed later from the same file. Pure: workflow code may call it.
 */
import { argmaxRows, classificationMetrics } from '../metrics.js';
import { calibration, type CalibrationReport } from './calibration.js';
import { averagePrecision, precisionRecallCurve, type PrecisionRecallCurve } from './precision-recall-curve.js';
import { checkProbabilityInput, classIndicator, classScores, type LabelVector, type ProbabilityMatrix } from './probability-input.js';
import { rocAuc, rocCurve, type RocCurve } from './roc-curve.js';
import { topKAccuracy } from './top-k-accuracy.js';

export interface EvaluationOptions {
  /** Which top-k accuracies to report. Defaults to [1, 5], leaving out 5 when there are 5 classes or fewer. */
  topK?: number[];
  /** Equal-width confidence bins for ECE and the reliability diagram. Defaults to 15. */
  calibrationBins?: number;
}

export interface AveragedScores {
  precision: number;
  recall: number;
  f1: number;
}

export interface ClassEvaluation extends AveragedScores {
  className: string;
  /** Images whose true class this is. */
  support: number;
  /** One-vs-rest ROC AUC; null when the class has no images, or every image is of this class. */
  rocAuc: number | null;
  /** One-vs-rest average precision; null when the class has no images. */
  averagePrecision: number | null;
}

export interface ClassCurves {
  className: string;
  roc: RocCurve | null;
  precisionRecall: PrecisionRecallCurve | null;
}

export interface EvaluationReport {
  count: number;
  classNames: string[];
  /** Argmax accuracy; ties go to the lower class index. */
  accuracy: number;
  topK: { k: number; accuracy: number }[];
  /** Precision, recall and F1 are 0 rather than undefined for a class never predicted or absent. */
  perClass: ClassEvaluation[];
  /** Unweighted means over classes; rocAuc and averagePrecision average only the classes where they are defined. */
  macro: AveragedScores & { rocAuc: number | null; averagePrecision: number | null };
  /** From pooled counts; for single-label data all three equal accuracy. */
  micro: AveragedScores;
  /** Means over classes weighted by support. */
  weighted: AveragedScores;
  /** confusion[actual][predicted] */
  confusion: number[][];
  curves: ClassCurves[];
  calibration: CalibrationReport;
}

const DEFAULT_CALIBRATION_BINS = 15;

/**
 * Computes every metric of the report. `probs` is row-major `labels.length x classNames.length`;
 * each row must sum to 1. Throws a RangeError naming the bad value otherwise.
 */
export function evaluateProbabilities(
  probs: ProbabilityMatrix,
  labels: LabelVector,
  classNames: readonly string[],
  options: EvaluationOptions = {},
): EvaluationReport {
  const shape = checkProbabilityInput(probs, labels, classNames.length);
  const ks = options.topK ?? (shape.numClasses > 5 ? [1, 5] : [1]);
  const bins = options.calibrationBins ?? DEFAULT_CALIBRATION_BINS;

  const predicted = argmaxRows(probs, shape.numClasses);
  const base = classificationMetrics(labels, predicted, [...classNames]);

  const curves: ClassCurves[] = classNames.map((className, c) => {
    const scores = classScores(probs, shape, c);
    const positives = classIndicator(labels, c);
    return { className, roc: rocCurve(scores, positives), precisionRecall: precisionRecallCurve(scores, positives) };
  });

  const perClass: ClassEvaluation[] = base.perClass.map((m, c) => {
    const curve = curves[c] as ClassCurves;
    return {
      className: m.className,
      support: m.support,
      precision: m.precision,
      recall: m.recall,
      f1: m.f1,
      rocAuc: rocAuc(curve.roc),
      averagePrecision: averagePrecision(curve.precisionRecall),
    };
  });

  const k = shape.numClasses;
  const mean = (pick: (m: ClassEvaluation) => number): number => perClass.reduce((s, m) => s + pick(m), 0) / k;
  const weightedMean = (pick: (m: ClassEvaluation) => number): number =>
    perClass.reduce((s, m) => s + pick(m) * m.support, 0) / shape.count;

  return {
    count: shape.count,
    classNames: [...classNames],
    accuracy: base.accuracy,
    topK: ks.map((topk) => ({ k: topk, accuracy: topKAccuracy(probs, labels, shape, topk) })),
    perClass,
    macro: {
      precision: mean((m) => m.precision),
      recall: mean((m) => m.recall),
      f1: mean((m) => m.f1),
      rocAuc: meanOfDefined(perClass.map((m) => m.rocAuc)),
      averagePrecision: meanOfDefined(perClass.map((m) => m.averagePrecision)),
    },
    micro: { precision: base.accuracy, recall: base.accuracy, f1: base.accuracy },
    weighted: {
      precision: weightedMean((m) => m.precision),
      recall: weightedMean((m) => m.recall),
      f1: weightedMean((m) => m.f1),
    },
    confusion: base.confusion,
    curves,
    calibration: calibration(probs, labels, shape, bins),
  };
}

function meanOfDefined(values: readonly (number | null)[]): number | null {
  const defined = values.filter((v): v is number => v !== null);
  return defined.length === 0 ? null : defined.reduce((s, v) => s + v, 0) / defined.length;
}
