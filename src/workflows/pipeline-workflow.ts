import { defineQuery, defineSignal, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { CpuActivities, GpuActivities } from '../activities/types.js';
import type { DatasetManifest, EpochProgressEvent, PipelineInput, PipelinePhase, PipelineProgress, PipelineResult } from '../core/manifests.js';
import { BENCHMARK_ACTIVITY, CPU_ACTIVITY, trainingActivity } from './activity-options.js';
import { prepareData, type DatasetWorkflowInput } from './prepare-data.js';

/** Current phase, epoch and latest metrics. */
export const progressQuery = defineQuery<PipelineProgress>('progress');
/** Sent by the training activity after each finished epoch. */
export const epochProgressSignal = defineSignal<[EpochProgressEvent]>('epochProgress');

/**
 * Phase 1 alone: prepares (or finds already prepared) a dataset's shards and data report.
 * Answers the same `progress` query and `arbitration` signal as the full pipeline.
 */
export async function datasetWorkflow(input: DatasetWorkflowInput): Promise<DatasetManifest> {
  const progress: PipelineProgress = { runId: input.runId, phase: 'prepare', completed: [], epoch: 0, epochs: 0, trainingAttempt: 0 };
  setHandler(progressQuery, () => progress);
  const manifest = await prepareData({
    ...input,
    progress,
    onArbitration: (waiting) => {
      if (waiting && !progress.completed.includes('prepare')) progress.completed.push('prepare');
      progress.phase = waiting ? 'arbitration' : 'prepare';
    },
  });
  progress.phase = 'done';
  return manifest;
}

/**
 * The five-phase training pipeline: prepare data -> select model -> train -> evaluate ->
 * validate for deployment, then the report. Activities exchange manifests with URIs only.
 */
export async function trainingPipelineWorkflow(input: PipelineInput): Promise<PipelineResult> {
  const { runId, storeUri, config } = input;
  const startedAt = new Date(workflowInfo().startTime).toISOString();
  const progress: PipelineProgress = { runId, phase: 'starting', completed: [], epoch: 0, epochs: config.training.epochs, trainingAttempt: 0 };

  setHandler(progressQuery, () => progress);
  setHandler(epochProgressSignal, (event) => {
    // Signals from an older attempt can arrive late; never move the epoch counter backwards
    // within the same attempt, but a new attempt may legitimately restart from a checkpoint.
    if (event.attempt < progress.trainingAttempt) return;
    progress.trainingAttempt = event.attempt;
    progress.epoch = event.metrics.epoch;
    progress.epochs = event.epochs;
    progress.latest = event.metrics;
    progress.lastCheckpointUri = event.checkpointUri;
  });

  const cpu = proxyActivities<CpuActivities>(CPU_ACTIVITY);
  const gpu = proxyActivities<GpuActivities>(trainingActivity(config.training.heartbeatTimeoutSeconds));
  const bench = proxyActivities<GpuActivities>(BENCHMARK_ACTIVITY);

  const enter = (phase: PipelinePhase) => {
    if (progress.phase !== 'starting' && !progress.completed.includes(progress.phase)) progress.completed.push(progress.phase);
    progress.phase = phase;
  };
  const ctx = { runId, storeUri };

  enter('prepare');
  const dataset = await prepareData({ ...ctx, dataset: config.dataset, progress, onArbitration: (waiting) => (waiting ? enter('arbitration') : enter('prepare')) });

  enter('select');
  const plan = await cpu.selectModel({ ...ctx, dataset, model: config.model });

  enter('train');
  const training = await gpu.trainModel({ ...ctx, dataset, plan, training: config.training, progressWorkflowId: workflowInfo().workflowId });
  progress.epoch = training.epochsCompleted;
  progress.latest = training.history[training.history.length - 1];

  enter('evaluate');
  const evaluation = await cpu.evaluateModel({ ...ctx, dataset, training, backend: config.training.backend, evaluation: config.evaluation });
  progress.metrics = { accuracy: evaluation.accuracy };

  enter('validate');
  const validation = await bench.validateModel({ ...ctx, dataset, training, evaluation, validation: config.validation, backend: config.training.backend });
  progress.metrics = { accuracy: evaluation.accuracy, throughputImgPerS: validation.throughputImgPerS };

  enter('report');
  const result = { runId, dataset, plan, training, evaluation, validation };
  const report = await cpu.writeReport({ ...ctx, result, startedAt, finishedAt: new Date().toISOString() });

  enter('done');
  return { ...result, ...report };
}
