/**
 * One rung of one sweep trial, as a child workflow on the `vision-gpu` queue: one activity,
 * `trainTrialRung`, plans the trial's model (first rung only) and trains it to `stopAfterEpoch`. The trial's run id
 * `<sweepId>/trial-<n>` keeps its checkpoints apart, so the next rung (or a retried attempt
 * after a crash) resumes from the trial's own last checkpoint instead of starting over.
 *
 * It calls its activity by name, so a benchmark of the orchestration can register a stand-in
 * under that name (plus `writeSweepLeaderboard` for the sweep) and run the real workflows.
 */
import { patched, proxyActivities, proxyLocalActivities, type ActivityOptions, type LocalActivityOptions } from '@temporalio/workflow';
import type { CpuActivities, GpuActivities } from '../activities/types.js';
import type { ModelConfig, TrainingConfig } from '../core/config.js';
import type { DatasetManifest, ModelPlan } from '../core/manifests.js';
import type { RungExecution } from '../core/rung-execution.js';
import type { RungOutcome } from '../core/sweep-state.js';
import { CPU_ACTIVITY, trainingActivity } from './activity-options.js';

/** How a rung's training runs: see src/core/rung-execution.ts. */
export type TrialExecution = RungExecution;

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
  /** Defaults to 'activity'. */
  execution?: TrialExecution;
  /** The longest one attempt of a local-activity rung may run. */
  localTimeoutSeconds?: number;
}

/** The workflow id of one rung: deterministic, so a replayed sweep names the same child. */
export function trialRungWorkflowId(sweepId: string, trialNumber: number, stopAfterEpoch: number): string {
  return `${sweepId}/trial-${trialNumber}/epochs-${stopAfterEpoch}`;
}

export function trialRunId(sweepId: string, trialNumber: number): string {
  return `${sweepId}/trial-${trialNumber}`;
}

/** Histories recorded before a rung became one activity replay with `selectModel` then `trainModel`. */
export const ONE_ACTIVITY_RUNG_PATCH = 'trial-rung-one-activity';

/**
 * A rung run by the worker that runs the trial's workflow task: no dispatch through the server,
 * so a rung costs one workflow task. It cannot heartbeat; a lost worker is noticed when the
 * workflow task times out, and the retry resumes from the trial's newest checkpoint in the store.
 */
function localTrainingActivity(input: TrialRungInput): LocalActivityOptions {
  const { heartbeatTimeout: _unused, taskQueue: _queue, ...rest } = trainingActivity(input.training.heartbeatTimeoutSeconds);
  return { ...rest, startToCloseTimeout: `${input.localTimeoutSeconds ?? 1800} seconds` };
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
  if (!patched(ONE_ACTIVITY_RUNG_PATCH)) {
    const cpu = proxyActivities<Pick<CpuActivities, 'selectModel'>>(planActivity(input.training.heartbeatTimeoutSeconds));
    const gpu = proxyActivities<Pick<GpuActivities, 'trainModel'>>(trainingActivity(input.training.heartbeatTimeoutSeconds));
    const plan = input.plan ?? (await cpu.selectModel({ runId, storeUri, dataset, model: input.model }));
    const training = await gpu.trainModel({ runId, storeUri, dataset, plan, training: input.training, stopAfterEpoch: input.stopAfterEpoch });
    return { requestedEpoch: input.stopAfterEpoch, plan, training };
  }
  const { trainTrialRung } = input.execution === 'local-activity'
    ? proxyLocalActivities<Pick<GpuActivities, 'trainTrialRung'>>(localTrainingActivity(input))
    : proxyActivities<Pick<GpuActivities, 'trainTrialRung'>>(trainingActivity(input.training.heartbeatTimeoutSeconds));
  const { plan, training } = await trainTrialRung({
    runId, storeUri, dataset, model: input.model, training: input.training, stopAfterEpoch: input.stopAfterEpoch, ...(input.plan ? { plan: input.plan } : {}),
  });
  return { requestedEpoch: input.stopAfterEpoch, plan, training };
}
