/**
 * evaluation.json: every phase-4 figure (per-class scores, confusion, ROC and PR curves,
 * reliability bins) plus the Grad-CAM examples, computed from the saved probabilities so that
 * `evaluateSavedPredictions` can recompute the same figures later from the stored files alone.
 */
import type { EvalReport } from '../core/manifests.js';
import { evaluateProbabilities, type EvaluationOptions, type EvaluationReport } from '../core/evaluation/index.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import { loadPredictions } from './saved-predictions.js';

export const EVALUATION_FORMAT = 'durable-vision/evaluation';

export interface GradCamExample {
  /** Row of the image in the test split (and in the predictions file). */
  index: number;
  trueClass: number;
  trueClassName: string;
  predictedClass: number;
  predictedClassName: string;
  /** Probability of the predicted class. */
  probability: number;
  correct: boolean;
  /** The class the heatmap explains (the predicted one). */
  explainedClass: number;
  /** PNG overlay in the run's store. */
  uri: string;
}

export interface GradCamSection {
  enabled: boolean;
  /** The layer whose activations were weighted, when heatmaps were made. */
  layer?: string;
  /** Why there are no heatmaps (disabled, an engine without Grad-CAM, a model without a feature map, ...). */
  skipped?: string;
  examplesPerClass: number;
  /** Heatmap resolution (the layer's feature map). */
  height?: number;
  width?: number;
  examples: GradCamExample[];
}

export interface EvaluationDocument extends EvaluationReport {
  format: typeof EVALUATION_FORMAT;
  version: 1;
  /** Backend the predictions were computed on. */
  backend: string;
  /** Kept from the first evaluation.json layout: `classNames` under its old name, and macro F1. */
  classes: string[];
  macroF1: number;
  predictionsUri: string;
  predictionsHeaderUri: string;
  /** What the metrics were computed with, so a recomputation uses the same. */
  options: Required<EvaluationOptions>;
  gradCam: GradCamSection;
}

/** The options evaluateProbabilities applied, made explicit. */
export function resolvedOptions(numClasses: number, calibrationBins: number): Required<EvaluationOptions> {
  return { topK: numClasses > 5 ? [1, 5] : [1], calibrationBins };
}

/**
 * Recomputes the metrics from stored probabilities. `uri` is either a predictions file (the
 * default options apply unless given) or an evaluation.json (its predictions and options are
 * used). Throws with the file and field when the files are incomplete or disagree; `expected`
 * checks the stored labels and classes against the caller's.
 */
export async function evaluateSavedPredictions(
  store: ArtifactStore,
  uri: string,
  options: EvaluationOptions & { expected?: { labels?: ArrayLike<number>; classes?: readonly string[] } } = {},
): Promise<EvaluationReport> {
  let predictionsUri = uri;
  let stored: Partial<EvaluationOptions> = {};
  if (!uri.endsWith('.f32')) {
    const doc = JSON.parse((await store.get(store.keyOf(uri))).toString('utf8')) as Partial<EvaluationDocument>;
    if (typeof doc.predictionsUri !== 'string') throw new Error(`${uri}: predictionsUri is ${JSON.stringify(doc.predictionsUri)}, expected the URI of the saved probabilities (is this an evaluation.json?)`);
    predictionsUri = doc.predictionsUri;
    stored = doc.options ?? {};
  }
  const saved = await loadPredictions(store, predictionsUri);
  const { expected } = options;
  if (expected?.classes !== undefined && JSON.stringify([...expected.classes]) !== JSON.stringify(saved.classes)) {
    throw new Error(`predictions ${predictionsUri}: classes are ${JSON.stringify(saved.classes)}, expected ${JSON.stringify(expected.classes)}`);
  }
  if (expected?.labels !== undefined) {
    if (expected.labels.length !== saved.labels.length) throw new Error(`predictions ${predictionsUri}: holds ${saved.labels.length} images, expected ${expected.labels.length}`);
    for (let i = 0; i < saved.labels.length; i++) {
      if (expected.labels[i] !== saved.labels[i]) throw new Error(`predictions ${predictionsUri}: labels[${i}] is ${saved.labels[i]}, expected ${expected.labels[i]}`);
    }
  }
  const topK = options.topK ?? stored.topK;
  const calibrationBins = options.calibrationBins ?? stored.calibrationBins;
  return evaluateProbabilities(saved.probabilities, saved.labels, saved.classes, {
    ...(topK !== undefined ? { topK } : {}),
    ...(calibrationBins !== undefined ? { calibrationBins } : {}),
  });
}

/** The small EvalReport (headline figures and URIs) of a full evaluation. */
export function summariseEvaluation(doc: EvaluationDocument, evalUri: string): EvalReport {
  return {
    accuracy: doc.accuracy,
    macroF1: doc.macro.f1,
    perClass: doc.perClass.map(({ className, precision, recall, f1, support }) => ({ className, precision, recall, f1, support })),
    confusion: doc.confusion,
    count: doc.count,
    evalUri,
    predictionsUri: doc.predictionsUri,
    backend: doc.backend,
    topK: doc.topK,
    macroPrecision: doc.macro.precision,
    macroRecall: doc.macro.recall,
    microF1: doc.micro.f1,
    weightedF1: doc.weighted.f1,
    macroRocAuc: doc.macro.rocAuc,
    macroAveragePrecision: doc.macro.averagePrecision,
    ece: doc.calibration.ece,
    gradCam: {
      images: doc.gradCam.examples.length,
      ...(doc.gradCam.layer !== undefined ? { layer: doc.gradCam.layer } : {}),
      ...(doc.gradCam.skipped !== undefined ? { skipped: doc.gradCam.skipped } : {}),
    },
  };
}
