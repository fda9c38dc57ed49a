/**
 * Activity contracts as the workflows see them. Workflows import these types only; the
 * implementations live beside this file and are wired up by the workers.
 */
import type { DatasetConfig, ModelConfig, TrainingConfig, ValidationConfig } from '../core/config.js';
import type { DatasetManifest, EvalReport, ModelPlan, PipelineResult, TrainResult, ValidationReport } from '../core/manifests.js';

export interface RunContext {
  runId: string;
  storeUri: string;
}

export interface PrepareDatasetInput extends RunContext {
  dataset: DatasetConfig;
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
}

export interface EvaluateModelInput extends RunContext {
  dataset: DatasetManifest;
  training: TrainResult;
  backend: TrainingConfig['backend'];
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
export interface CpuActivities {
  prepareDataset(input: PrepareDatasetInput): Promise<DatasetManifest>;
  selectModel(input: SelectModelInput): Promise<ModelPlan>;
  evaluateModel(input: EvaluateModelInput): Promise<EvalReport>;
  writeReport(input: WriteReportInput): Promise<{ reportUri: string; reportHtmlUri: string }>;
}

/** Activities served on the `vision-gpu` queue. */
export interface GpuActivities {
  trainModel(input: TrainModelInput): Promise<TrainResult>;
  validateModel(input: ValidateModelInput): Promise<ValidationReport>;
}
