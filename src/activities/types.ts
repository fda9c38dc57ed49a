/**
 * Activity contracts as the workflows see them. Workflows import these types only; the
 * implementations live beside this file and are wired up by the workers.
 */
import type { DatasetConfig, EvaluationConfig, ModelConfig, TrainingConfig, ValidationConfig } from '../core/config.js';
import type {
  ArbitrationRequest,
  DatasetManifest,
  EvalReport,
  LabelPlan,
  LabelQaSummary,
  ModelPlan,
  PipelineResult,
  QuarantineReason,
  SplitSummary,
  TrainResult,
  ValidationReport,
} from '../core/manifests.js';

export interface RunContext {
  runId: string;
  storeUri: string;
}

/** What listing the sources found: enough for the workflow to plan chunks and label QA. */
export interface DatasetListing {
  fingerprint: string;
  /** Store prefix of this dataset's files, `datasets/<fingerprint[0:32]>`. */
  prefix: string;
  /** Set when a dataset with this fingerprint is already prepared: nothing else to do. */
  reused?: DatasetManifest;
  sourceUri: string;
  items: number;
  chunks: number;
  chunkSize: number;
  classes: string[];
  sources: { tag: string; uri: string; images: number }[];
  /** Listed but unusable (path traversal, missing files): quarantined without decoding. */
  rejected: number;
  labelQa: Omit<LabelQaSummary, 'paused' | 'resolution' | 'dropped' | 'threshold'>;
  /** CSV of conflicted images, written when there are any. */
  arbitrationUri?: string;
}

export interface ListDatasetInput extends RunContext {
  dataset: DatasetConfig;
}

export interface ApplyArbitrationInput extends RunContext {
  listing: DatasetListing;
  request: ArbitrationRequest;
}

export interface PrepareChunkInput extends RunContext {
  dataset: DatasetConfig;
  /** `chunkSize` is missing only in inputs recorded before it was passed. */
  listing: Pick<DatasetListing, 'prefix' | 'fingerprint' | 'classes'> & { chunkSize?: number };
  chunk: number;
}

export interface ChunkSummary {
  chunk: number;
  items: number;
  decoded: number;
  quarantined: number;
  byReason: Partial<Record<QuarantineReason, number>>;
  seconds: number;
  /** True when an earlier attempt had finished this chunk. */
  reused: boolean;
}

export interface CleanDatasetInput extends RunContext {
  dataset: DatasetConfig;
  listing: DatasetListing;
  chunks: ChunkSummary[];
  labels: LabelPlan;
}

export interface CleanSummary {
  /** Per chunk, per decoded record: 0 train, 1 val, 2 test, -1 quarantined. */
  planUri: string;
  quarantineListUri: string;
  accepted: number;
  quarantined: number;
  byReason: Partial<Record<QuarantineReason, number>>;
  counts: { train: number; val: number; test: number };
  duplicates: { exact: number; near: number; leakage: number };
  /** `features`: what the isolation forest saw, in order (FEATURE_VECTOR_NAMES, then embedding[k]). */
  outliers: { scored: number; quarantined: number; threshold: number; features: string[] };
  /** Conflicted images no resolution or rule settled. */
  labelDropped: number;
}

export interface WriteSplitInput extends RunContext {
  dataset: DatasetConfig;
  listing: DatasetListing;
  cleaned: CleanSummary;
  split: 'train' | 'val' | 'test';
}

export interface FinaliseDatasetInput extends RunContext {
  dataset: DatasetConfig;
  listing: DatasetListing;
  labels: LabelPlan;
  cleaned: CleanSummary;
  splits: { train: SplitSummary; val: SplitSummary; test: SplitSummary };
}

/** Phase-1 activities, on the `vision-cpu` queue. */
export interface DataActivities {
  listDataset(input: ListDatasetInput): Promise<DatasetListing>;
  applyArbitration(input: ApplyArbitrationInput): Promise<Omit<LabelPlan, 'paused'>>;
  prepareChunk(input: PrepareChunkInput): Promise<ChunkSummary>;
  cleanDataset(input: CleanDatasetInput): Promise<CleanSummary>;
  writeSplitShards(input: WriteSplitInput): Promise<SplitSummary>;
  finaliseDataset(input: FinaliseDatasetInput): Promise<DatasetManifest>;
}

export interface SelectModelInput extends RunContext {
  dataset: DatasetManifest;
  model: ModelConfig;
}

export interface TrainModelInput extends RunContext {
  dataset: DatasetManifest;
  plan: ModelPlan;
  training: TrainingConfig;
  /** Workflow to tell about finished epochs (best effort); unset in standalone use. */
  progressWorkflowId?: string;
  /** Stop after this many finished epochs (a sweep rung); the schedule still spans training.epochs. */
  stopAfterEpoch?: number;
}

/** One rung of a sweep trial: plan the model on the first rung (no `plan` yet), then train to `stopAfterEpoch`. */
export interface TrainTrialRungInput extends RunContext {
  dataset: DatasetManifest;
  model: ModelConfig;
  training: TrainingConfig;
  /** The plan an earlier rung made; absent on the first rung. */
  plan?: ModelPlan;
  stopAfterEpoch: number;
}

export interface TrialRungResult {
  plan: ModelPlan;
  training: TrainResult;
}

export interface EvaluateModelInput extends RunContext {
  dataset: DatasetManifest;
  training: TrainResult;
  backend: TrainingConfig['backend'];
  /** Defaults to the config defaults (histories recorded before the section existed lack it). */
  evaluation?: EvaluationConfig;
}

export interface ValidateModelInput extends RunContext {
  dataset: DatasetManifest;
  training: TrainResult;
  evaluation: EvalReport;
  validation: ValidationConfig;
  backend: TrainingConfig['backend'];
}

export interface WriteReportInput extends RunContext {
  result: Omit<PipelineResult, 'reportUri' | 'reportHtmlUri'>;
  startedAt: string;
  finishedAt: string;
}

/** Activities served on the `vision-cpu` queue. */
export interface CpuActivities extends DataActivities {
  selectModel(input: SelectModelInput): Promise<ModelPlan>;
  evaluateModel(input: EvaluateModelInput): Promise<EvalReport>;
  writeReport(input: WriteReportInput): Promise<{ reportUri: string; reportHtmlUri: string }>;
}

/** Activities served on the `vision-gpu` queue. */
export interface GpuActivities {
  trainModel(input: TrainModelInput): Promise<TrainResult>;
  validateModel(input: ValidateModelInput): Promise<ValidationReport>;
  /** Plans (first rung) and trains one sweep trial rung in one activity: one dispatch per rung. */
  trainTrialRung(input: TrainTrialRungInput): Promise<TrialRungResult>;
}
