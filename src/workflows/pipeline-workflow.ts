import { ApplicationFailure, defineSignal, executeChild, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { CpuActivities, GpuActivities } from '../activities/types.js';
import type {
  DatasetManifest, EpochProgressEvent, ModelPlan, PipelineInput, PipelinePhase, PipelineProgress, PipelineResult, SweepSummary, TrainResult,
} from '../core/manifests.js';
import { trainResultOf } from '../core/sweep-state.js';
import { CPU_QUEUE } from '../core/task-queues.js';
import { sweepWorkflow } from './sweep-workflow.js';
import { BENCHMARK_ACTIVITY, CPU_ACTIVITY, trainingActivity } from './activity-options.js';
import { prepareData, progressQuery, type DatasetWorkflowInput } from './prepare-data.js';

export { progressQuery };
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

  let plan: ModelPlan;
  let training: TrainResult;
  let sweep: SweepSummary | undefined;
  if (config.sweep !== undefined) {
    // Phases 3-4 as a sweep (a child workflow); its best trial's model goes on to phase 5.
    enter('train');
    ({ plan, training, sweep } = await runSweep(input, dataset));
  } else {
    enter('select');
    plan = await cpu.selectModel({ ...ctx, dataset, model: config.model });

    enter('train');
    training = await gpu.trainModel({ ...ctx, dataset, plan, training: config.training, progressWorkflowId: workflowInfo().workflowId });
  }
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
  return { ...result, ...report, ...(sweep ? { sweep } : {}) };
}

/** Runs the config's sweep on the prepared dataset; the best trial becomes the run's model. */
async function runSweep(input: PipelineInput, dataset: DatasetManifest): Promise<{ plan: ModelPlan; training: TrainResult; sweep: SweepSummary }> {
  const sweepId = `${input.runId}-sweep`;
  const result = await executeChild(sweepWorkflow, {
    taskQueue: CPU_QUEUE,
    workflowId: sweepId,
    args: [{ sweepId, storeUri: input.storeUri, config: input.config, dataset }],
  });
  const best = result.bestTrial;
  if (best?.plan === undefined || best.metric === undefined) {
    throw ApplicationFailure.nonRetryable(`sweep ${sweepId} finished without a trained trial (${result.counts.failed} failed of ${result.counts.total}); see ${result.leaderboardUri}`, 'SweepError');
  }
  return {
    plan: best.plan,
    training: trainResultOf(best),
    sweep: { sweepId, leaderboardUri: result.leaderboardUri, metric: result.metric, bestTrial: best.number, bestMetric: best.metric, trials: result.counts.total },
  };
}
