/**
 * One rung of one sweep trial, as a child workflow on the `vision-gpu` queue: plan the trial's
 * model (first rung only), then train it to `stopAfterEpoch`. The trial's run id
 * `<sweepId>/trial-<n>` keeps its checkpoints apart, so the next rung (or a retried attempt
 * after a crash) resumes from the trial's own last checkpoint instead of starting over.
 *
 * It calls two activities by name, `selectModel` on `vision-cpu` and `trainModel` (with
 * `stopAfterEpoch`) on `vision-gpu`, so a benchmark of the orchestration can register stand-ins
 * under those names (plus `writeSweepLeaderboard` for the sweep) and run the real workflows.
 */
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { CpuActivities, GpuActivities } from '../activities/types.js';
import type { ModelConfig, TrainingConfig } from '../core/config.js';
import type { DatasetManifest, ModelPlan } from '../core/manifests.js';
import type { RungOutcome } from '../core/sweep-state.js';
import { CPU_ACTIVITY, trainingActivity } from './activity-options.js';

export interface TrialRungInput {
  sweepId: string;
  trialNumber: number;
  /** `<sweepId>/trial-<n>`: where the trial's checkpoints, model and history live. */
  runId: string;
  storeUri: string;
  dataset: DatasetManifest;
  /** The base config with the trial's parameters applied. */
  model: ModelConfig;
  training: TrainingConfig;
  /** The plan an earlier rung made; absent on the first rung. */
  plan?: ModelPlan;
  /** Train until this many epochs are finished (the schedule still spans training.epochs). */
  stopAfterEpoch: number;
}

/** The workflow id of one rung: deterministic, so a replayed sweep names the same child. */
export function trialRungWorkflowId(sweepId: string, trialNumber: number, stopAfterEpoch: number): string {
  return `${sweepId}/trial-${trialNumber}/epochs-${stopAfterEpoch}`;
}

export function trialRunId(sweepId: string, trialNumber: number): string {
  return `${sweepId}/trial-${trialNumber}`;
}

/**
 * Planning does not heartbeat, so CPU_ACTIVITY's heartbeat timeout would leave a plan lost with
 * its worker waiting minutes; a trial notices a lost plan as soon as a lost training attempt
 * (twice the training heartbeat timeout, at least 30 s, which building any architecture fits in).
 */
function planActivity(heartbeatTimeoutSeconds: number): ActivityOptions {
  const { heartbeatTimeout: _unused, ...rest } = CPU_ACTIVITY;
  return { ...rest, startToCloseTimeout: `${Math.max(30, 2 * heartbeatTimeoutSeconds)} seconds` };
}

export async function trialWorkflow(input: TrialRungInput): Promise<RungOutcome> {
  const { runId, storeUri, dataset } = input;
  const cpu = proxyActivities<Pick<CpuActivities, 'selectModel'>>(planActivity(input.training.heartbeatTimeoutSeconds));
  const gpu = proxyActivities<Pick<GpuActivities, 'trainModel'>>(trainingActivity(input.training.heartbeatTimeoutSeconds));
  const plan = input.plan ?? (await cpu.selectModel({ runId, storeUri, dataset, model: input.model }));
  const training = await gpu.trainModel({ runId, storeUri, dataset, plan, training: input.training, stopAfterEpoch: input.stopAfterEpoch });
  return { requestedEpoch: input.stopAfterEpoch, plan, training };
}
