/**
 * The small JSON manifests that travel through Temporal between phases. They carry URIs of
 * artifacts in the store, never image data.
 */
import type { AugmentationPolicy, PipelineConfig } from './config.js';

export interface SplitSummary {
  /** URI of the split's shard index (`dv-shards/1`). */
  indexUri: string;
  count: number;
  perClass: number[];
}

/** Why phase 1 set an input image aside. Every input ends up accepted or quarantined with one. */
export type QuarantineReason =
  | 'zero-byte'
  | 'unsupported-format'
  | 'truncated'
  | 'corrupt'
  | 'decompression-bomb'
  | 'too-small'
  | 'unreadable'
  | 'path-traversal'
  | 'duplicate'
  | 'near-duplicate'
  | 'leakage'
  | 'outlier'
  | 'label-conflict';

export interface QuarantineExample {
  /** Source URI of the image. */
  uri: string;
  source: string;
  detail: string;
  /** A small PNG as a data URI, when the image could be decoded. */
  thumbnail?: string;
}

export interface LabelQaSummary {
  /** Images with labels from two or more annotators. */
  multiplyAnnotated: number;
  /** Of those, images whose annotators disagree. */
  conflicted: number;
  conflictRate: number;
  threshold: number;
  perClass: { className: string; annotated: number; conflicted: number; rate: number }[];
  /** matrix[a][b]: annotator pairs where one said class a and the other class b (symmetric). */
  matrix: number[][];
  /** Whether the workflow waited for arbitration. */
  paused: boolean;
  /** How conflicts were settled. */
  resolution: 'none' | 'rule:majority' | 'rule:drop' | 'arbitration' | 'timeout:drop' | 'timeout:majority';
  arbitrationUri?: string;
  /** Conflicted images set aside unresolved. */
  dropped: number;
}

export interface DataReport {
  inputCount: number;
  accepted: number;
  quarantined: number;
  sources: { tag: string; uri: string; images: number }[];
  classBalance: { className: string; train: number; val: number; test: number }[];
  quarantine: { reason: QuarantineReason; count: number; examples: QuarantineExample[] }[];
  /** Every quarantined image, one JSON object a line: {uri, source, reason, detail}. */
  quarantineListUri: string;
  labelQa: LabelQaSummary;
  duplicates: { exact: number; near: number; leakage: number; nearHamming: number };
  outliers: {
    scored: number;
    quarantined: number;
    contamination: number;
    /** Anomaly score at or above which an image was quarantined (1 when none were). */
    threshold: number;
    /** The isolation forest's features, in order: per-image statistics, then `embedding[k]` when a backbone is configured. */
    features?: string[];
    examples: (QuarantineExample & { score: number })[];
  };
  augmentation: DatasetAugmentation;
}

export interface DatasetAugmentation {
  offlineFactor: number;
  online: boolean;
  policy: AugmentationPolicy;
  seed: number;
}

export interface DatasetManifest {
  /** sha256 over the source listing and the preparation settings. */
  fingerprint: string;
  sourceUri: string;
  classes: string[];
  /** [height, width, channels] */
  inputShape: [number, number, number];
  scaling: '0-1' | '-1-1';
  fit: 'fill' | 'contain' | 'cover';
  splits: { train: SplitSummary; val: SplitSummary; test: SplitSummary };
  /** The policy the shards were expanded with and the trainer applies online; inference uses none. */
  augmentation: DatasetAugmentation;
  stats: { sourceImages: number; decoded: number; accepted: number; quarantined: number; seconds: number; reused: boolean };
  dataReportUri: string;
  manifestUri: string;
}

export interface ModelPlan {
  architecture: string;
  inputShape: [number, number, number];
  numClasses: number;
  paramsCount: number;
  widthMultiplier: number;
  dropout: number;
  /** ViT patch size, when the architecture has one. */
  patchSize?: number;
  /** A pretrained backbone the model starts from (transfer learning). */
  backbone?: { uri: string; cutLayer: string; strict?: boolean };
  planUri: string;
}

export interface EpochMetrics {
  /** 1-based epoch that just finished. */
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss?: number;
  valAccuracy?: number;
  /** Training images per second this epoch (validation excluded). */
  imagesPerSecond: number;
  /** Wall time of the epoch: training plus validation (checkpoint encoding excluded). */
  seconds: number;
}

export interface TrainResult {
  modelUri: string;
  checkpointUris: string[];
  historyUri: string;
  history: EpochMetrics[];
  bestEpoch: number;
  epochsCompleted: number;
  /** Epoch the last attempt started from (0 = fresh). */
  resumedFromEpoch: number;
  attempts: number;
  engine: string;
  backend: string;
  /** Set when training ran under bf16 autocast (training.precision bf16, torch engine on CUDA). */
  precision?: 'bf16';
  /** A torch-engine model exported to ONNX, so workers without PyTorch can evaluate it (onnxruntime-node). */
  onnxUri?: string;
}

export interface ClassMetrics {
  className: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

/**
 * Phase 4's summary, small enough for Temporal: headline figures and URIs. Everything else
 * (curves, reliability bins, Grad-CAM examples) is in the evaluation.json at `evalUri`, and can
 * be recomputed from the probabilities at `predictionsUri`. Fields after `backend` are absent
 * from reports written before they existed.
 */
export interface EvalReport {
  accuracy: number;
  macroF1: number;
  perClass: ClassMetrics[];
  /** confusion[actual][predicted] */
  confusion: number[][];
  count: number;
  evalUri: string;
  /** Raw float32 `count x classes` probabilities; its JSON header sits at `${predictionsUri}.json`. */
  predictionsUri: string;
  backend: string;
  /** Top-k accuracies: k = 1, and 5 when there are more than 5 classes. */
  topK?: { k: number; accuracy: number }[];
  macroPrecision?: number;
  macroRecall?: number;
  /** Equals accuracy for single-label data. */
  microF1?: number;
  weightedF1?: number;
  /** One-vs-rest ROC AUC, averaged over the classes where it is defined; null when none is. */
  macroRocAuc?: number | null;
  macroAveragePrecision?: number | null;
  /** Expected calibration error of the top prediction. */
  ece?: number;
  gradCam?: { images: number; layer?: string; skipped?: string };
}

export interface GateVerdict {
  gate: string;
  passed: boolean;
  reason: string;
}

export interface ValidationReport {
  throughputImgPerS: number;
  batchSize: number;
  latencyMs: { p50: number; p95: number; mean: number };
  peakRssMb: number;
  backend: string;
  /** The ONNX file benchmarked (a torch-engine model). */
  onnxUri?: string;
  verdicts: GateVerdict[];
  blessed: boolean;
  validationUri: string;
}

export interface PipelineInput {
  runId: string;
  storeUri: string;
  config: PipelineConfig;
}

export interface PipelineResult {
  runId: string;
  dataset: DatasetManifest;
  plan: ModelPlan;
  training: TrainResult;
  evaluation: EvalReport;
  validation: ValidationReport;
  reportUri: string;
  reportHtmlUri: string;
  /** Set when the config had a sweep: phases 3-4 ran it and phase 5 took its best trial's model. */
  sweep?: SweepSummary;
}

export interface SweepSummary {
  sweepId: string;
  leaderboardUri: string;
  metric: string;
  bestTrial: number;
  bestMetric: number;
  trials: number;
}

export type PipelinePhase = 'starting' | 'prepare' | 'arbitration' | 'select' | 'train' | 'evaluate' | 'validate' | 'report' | 'done' | 'failed';

export interface PipelineProgress {
  runId: string;
  phase: PipelinePhase;
  /** Phases finished so far, in order. */
  completed: PipelinePhase[];
  epoch: number;
  epochs: number;
  latest?: EpochMetrics;
  lastCheckpointUri?: string;
  /** Training attempt numbers seen (a retry after a crash shows 2, 3, ...). */
  trainingAttempt: number;
  metrics?: { accuracy?: number; throughputImgPerS?: number };
  /** Phase-1 chunks decoded so far. */
  prepare?: { chunks: number; chunksDone: number };
  /** Set when label QA paused the run for arbitration. */
  arbitration?: ArbitrationStatus;
}

export interface ArbitrationStatus {
  status: 'waiting' | 'checking' | 'resolved' | 'timed-out';
  conflicted: number;
  multiplyAnnotated: number;
  conflictRate: number;
  threshold: number;
  /** CSV of the conflicted images, with an empty `resolution` column to fill in. */
  arbitrationUri: string;
  timeoutHours: number;
  /** Why the last arbitration sent was refused (the run keeps waiting). */
  error?: string;
}

/**
 * The arbitration signal's payload: exactly one of a filled-in arbitration CSV, a third
 * annotator's manifest (`path,label[,annotator]`, majority of three decides), or a rule.
 */
export interface ArbitrationRequest {
  resolutionsUri?: string;
  thirdAnnotatorUri?: string;
  decision?: 'majority' | 'drop';
}

/** How phase 1 settles conflicting labels, decided before decoding. */
export interface LabelPlan {
  /** Applied to conflicts no resolution covers. */
  rule: 'majority' | 'drop';
  /** JSON `{ overrides: { [imageUri]: className } }` from arbitration. */
  resolutionsUri?: string;
  how: LabelQaSummary['resolution'];
  paused: boolean;
}

/** Sent by the training activity after each epoch, so the workflow can answer `progress`. */
export interface EpochProgressEvent {
  attempt: number;
  epochs: number;
  metrics: EpochMetrics;
  checkpointUri: string;
}
