/**
 * The small JSON manifests that travel through Temporal between phases. They carry URIs of
 * artifacts in the store, never image data.
 */
import type { PipelineConfig } from './config.js';

export interface SplitSummary {
  /** URI of the split's shard index (`dv-shards/1`). */
  indexUri: string;
  count: number;
  perClass: number[];
}

export interface DatasetManifest {
  /** sha256 over the source listing and the preparation settings. */
  fingerprint: string;
  sourceUri: string;
  classes: string[];
  /** [height, width, channels] */
  inputShape: [number, number, number];
  scaling: '0-1' | '-1-1';
  splits: { train: SplitSummary; val: SplitSummary; test: SplitSummary };
  stats: { sourceImages: number; decoded: number; seconds: number; reused: boolean };
  manifestUri: string;
}

export interface ModelPlan {
  architecture: string;
  inputShape: [number, number, number];
  numClasses: number;
  paramsCount: number;
  widthMultiplier: number;
  dropout: number;
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
}

export interface ClassMetrics {
  className: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface EvalReport {
  accuracy: number;
  macroF1: number;
  perClass: ClassMetrics[];
  confusion: number[][];
  count: number;
  evalUri: string;
  predictionsUri: string;
  backend: string;
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
}

export type PipelinePhase = 'starting' | 'prepare' | 'select' | 'train' | 'evaluate' | 'validate' | 'report' | 'done' | 'failed';

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
}

/** Sent by the training activity after each epoch, so the workflow can answer `progress`. */
export interface EpochProgressEvent {
  attempt: number;
  epochs: number;
  metrics: EpochMetrics;
  checkpointUri: string;
}
