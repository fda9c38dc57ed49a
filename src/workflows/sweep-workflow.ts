/**
 * A hyperparameter sweep as one durable workflow. Trials run as child workflows (one per rung,
 * `trialWorkflow` on `vision-gpu`) up to the concurrency limit; after each rung the scheduler
 * (ASHA, median rule, or none) stops the trial or lets it continue from its own checkpoint.
 * The sampler, the scheduler and the trial table live in this workflow (SweepBook, plain JSON),
 * so a restarted worker or Temporal server loses no finished trial and trains none again.
 *
 * Before history grows too long the sweep stops starting rungs, lets the running ones finish
 * (one rung each), and continues as new with the whole state: no child is in flight across
 * continue-as-new, so none can be orphaned or started twice.
 *
 * Steering: `stop` (graceful: no new trials or rungs; running rungs finish, then their trials
 * count as stopped), `stopNow` (no new trials or rungs, and running rungs are cancelled: their
 * trainings end at the next heartbeat, keeping the checkpoints of finished epochs), `extendBudget(n)`, `setConcurrency(n)`, `enqueue(config)` (checked against
 * the space; runs before sampled trials, in addition to the budget). Refused requests are listed
 * in `status().notices`, since a signal cannot answer its sender.
 */
import {
  ApplicationFailure, CancellationScope, condition, continueAsNew, defineQuery, defineSignal, executeChild, isCancellation, patched, proxyActivities, setHandler, workflowInfo,
} from '@temporalio/workflow';
import type { SweepActivities } from '../activities/sweep-activities.js';
import type { PipelineConfig } from '../core/config.js';
import type { DatasetManifest, PipelineProgress } from '../core/manifests.js';
import type { ParamValue } from '../core/search/index.js';
import { chooseRungExecution, recordRungSeconds, type RungExecution } from '../core/rung-execution.js';
import { applyTrialConfig } from '../core/sweep-space.js';
import { checkSweepId, SweepBook, type Launch, type LeaderboardRow, type SweepState, type SweepStateV1, type TrialRecord, type TrialStatus } from '../core/sweep-state.js';
import { GPU_QUEUE } from '../core/task-queues.js';
import { CPU_ACTIVITY } from './activity-options.js';
import { prepareData, progressQuery } from './prepare-data.js';
import { trialRunId, trialRungWorkflowId, trialWorkflow } from './trial-workflow.js';

export interface SweepInput {
  /** Names the sweep: trial run ids are `<sweepId>/trial-<n>`, the leaderboard `sweeps/<sweepId>/leaderboard.json`. */
  sweepId: string;
  storeUri: string;
  /** Must have a `sweep` section; training.epochs is every trial's maximum. */
  config: PipelineConfig;
  /** A prepared dataset; without one the sweep runs phase 1 itself, once. */
  dataset?: DatasetManifest;
  /** Continue as new once history has this many events (or when Temporal suggests it). Defaults to 10,000. */
  historyLimit?: number;
  /** Finished trials kept whole in the state (the leaderboard's head); defaults to 100. */
  leaderboardKeep?: number;
  /** Archived trials' rows written to the store this many at a time; defaults to 250. */
  archivePartSize?: number;
  /** Carried by continue-as-new. */
  state?: SweepState | SweepStateV1;
  /** Runs of this sweep before this one (continue-as-new count). */
  continued?: number;
  /** Events numbered so far by earlier runs (carried by continue-as-new). */
  eventSeq?: number;
  /** The latest finished rungs' seconds, start to result ('auto' trialExecution; carried by continue-as-new). */
  rungSeconds?: number[];
}

export interface SweepStatus {
  sweepId: string;
  /** What trials are ranked by (val_accuracy or val_loss). */
  metric: string;
  phase: 'preparing' | 'running' | 'draining' | 'stopping' | 'writing' | 'done';
  budget: number;
  concurrency: number;
  /** Trials started so far, and per status. */
  counts: Record<TrialStatus, number> & { total: number };
  /** Trial numbers with a rung training now. */
  training: number[];
  queued: number;
  best?: LeaderboardRow;
  stopReason?: string;
  notices: string[];
  /** Continue-as-new count, and this run's history length. */
  continued: number;
  historyLength: number;
  /** Phase 1's label QA arbitration, while or after the sweep's own data preparation waited for it. */
  arbitration?: PipelineProgress['arbitration'];
}

export interface SweepResult {
  sweepId: string;
  metric: string;
  best?: LeaderboardRow;
  /** The leaderboard's head: its first `leaderboardKeep` rows. Every trial's row is at leaderboardUri. */
  leaderboard: LeaderboardRow[];
  counts: Record<TrialStatus, number> & { total: number };
  leaderboardUri: string;
  stopReason?: string;
  dataset: DatasetManifest;
  /** The best trial's full record (its plan and history), for the pipeline's phase 5. */
  bestTrial?: TrialRecord;
  continued: number;
}

export const stopSweepSignal = defineSignal<[reason?: string]>('stop');
/** Stop, and cancel the rungs training now (their trials end as stopped, with their last finished rung). */
export const stopSweepNowSignal = defineSignal<[reason?: string]>('stopNow');
export const extendBudgetSignal = defineSignal<[n: number]>('extendBudget');
export const setConcurrencySignal = defineSignal<[n: number]>('setConcurrency');
export const enqueueTrialSignal = defineSignal<[config: Record<string, ParamValue>]>('enqueue');
/**
 * What happened to one trial: a rung started (with the trial's config when it is the first), or a
 * rung's result (the trial's row right after it). `seq` grows by one per event over the whole
 * sweep, continue-as-new included.
 */
export interface SweepEvent {
  seq: number;
  trial: number;
  kind: 'started' | 'result';
  /** 'started': the epoch the rung trains to, and the config on a trial's first rung. */
  targetEpoch?: number;
  /** 'started': how the rung's training runs (sweep.trialExecution, 'auto' resolved). */
  execution?: RungExecution;
  config?: Record<string, ParamValue>;
  source?: LeaderboardRow['source'];
  /** 'result': the trial's row after the rung (status, epochs, metric, detail). */
  row?: LeaderboardRow;
}

/** Events after `afterSeq` (all kept ones when absent), oldest first; a run keeps its last 1,000. */
export const sweepEventsQuery = defineQuery<SweepEvent[], [afterSeq?: number]>('events');

/** The leaderboard's head: the first `limit` rows (at most, and by default, the sweep's leaderboardKeep). */
export const leaderboardQuery = defineQuery<LeaderboardRow[], [limit?: number]>('leaderboard');
export const sweepStatusQuery = defineQuery<SweepStatus>('status');

const DEFAULT_HISTORY_LIMIT = 10_000;
const DEFAULT_ARCHIVE_PART_SIZE = 250;
const MAX_EVENTS = 1000;
/** Histories recorded before trials were archived to the store run without writing parts. */
export const TRIAL_ARCHIVE_PATCH = 'sweep-trial-archive';

export async function sweepWorkflow(input: SweepInput): Promise<SweepResult> {
  const { sweepId, storeUri, config } = input;
  const sweep = config.sweep;
  if (sweep === undefined) throw ApplicationFailure.nonRetryable(`sweep ${sweepId}: the config has no sweep section`, 'ConfigError');
  try {
    checkSweepId(sweepId);
  } catch (err) {
    throw ApplicationFailure.nonRetryable((err as Error).message, 'ConfigError');
  }
  const book = input.state !== undefined
    ? SweepBook.restore(input.state)
    : SweepBook.create(sweep, config.training.epochs, input.leaderboardKeep !== undefined ? { keep: input.leaderboardKeep } : {});
  const archivePartSize = input.archivePartSize ?? DEFAULT_ARCHIVE_PART_SIZE;
  const continued = input.continued ?? 0;
  const historyLimit = input.historyLimit ?? DEFAULT_HISTORY_LIMIT;
  const training = new Set<number>();
  let phase: SweepStatus['phase'] = 'preparing';
  let changed = false;

  // Phase 1 answers the `progress` query as a pipeline's does, so `arbitrate <sweepId>` settles a paused label QA.
  const progress = preparingProgress(sweepId);
  setHandler(progressQuery, () => progress);
  const steer = (what: string, apply: () => void) => {
    try {
      apply();
    } catch (err) {
      book.notice(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
    changed = true;
  };
  setHandler(stopSweepSignal, (reason) => steer('stop', () => book.stop(reason ?? 'stopped by request')));
  const rungScopes = new Map<number, CancellationScope>();
  setHandler(stopSweepNowSignal, (reason) => steer('stopNow', () => {
    book.stop(reason ?? 'stopped by request, running rungs cancelled');
    for (const scope of rungScopes.values()) scope.cancel();
  }));
  setHandler(extendBudgetSignal, (n) => steer('extendBudget', () => book.extendBudget(n)));
  setHandler(setConcurrencySignal, (n) => steer('setConcurrency', () => book.setConcurrency(n)));
  setHandler(enqueueTrialSignal, (trial) => steer('enqueue', () => book.enqueue(trial)));
  const events: SweepEvent[] = [];
  let eventSeq = input.eventSeq ?? 0;
  const emit = (event: Omit<SweepEvent, 'seq'>): void => {
    events.push({ seq: ++eventSeq, ...event });
    if (events.length > MAX_EVENTS) events.splice(0, events.length - MAX_EVENTS);
  };
  setHandler(sweepEventsQuery, (afterSeq) => events.filter((e) => afterSeq === undefined || e.seq > afterSeq));
  setHandler(leaderboardQuery, (limit) => book.leaderboard(Math.min(book.keep, limit ?? book.keep)));
  setHandler(sweepStatusQuery, (): SweepStatus => ({
    sweepId, metric: sweep.metric, phase, budget: book.budget, concurrency: book.concurrency, counts: book.counts(), training: [...training].sort((a, b) => a - b),
    queued: book.queued, ...(bestRow(book) ? { best: bestRow(book) } : {}), ...(book.stopReason ? { stopReason: book.stopReason } : {}),
    notices: [...book.notices], continued, historyLength: workflowInfo().historyLength,
    ...(progress.arbitration ? { arbitration: { ...progress.arbitration } } : {}),
  }));

  const dataset = input.dataset ?? (await prepareData({
    runId: sweepId, storeUri, dataset: config.dataset, progress,
    onArbitration: (waiting) => {
      progress.phase = waiting ? 'arbitration' : 'prepare';
    },
  }));
  progress.phase = 'done';
  phase = 'running';

  let rungSeconds = input.rungSeconds ?? [];
  const startRung = (launch: Launch): void => {
    const trialConfig = applyTrialConfig({ model: config.model, training: config.training }, launch.config);
    const execution = chooseRungExecution(sweep.trialExecution, rungSeconds);
    const startedAt = Date.now(); // workflow time: the same on replay
    training.add(launch.trialNumber);
    emit({
      trial: launch.trialNumber, kind: 'started', targetEpoch: launch.targetEpoch, execution,
      ...(launch.plan === undefined ? { config: launch.config, source: book.row(launch.trialNumber)?.source ?? 'sampler' } : {}),
    });
    const scope = new CancellationScope();
    rungScopes.set(launch.trialNumber, scope);
    const rung = scope.run(() => executeChild(trialWorkflow, {
      taskQueue: GPU_QUEUE,
      workflowId: trialRungWorkflowId(sweepId, launch.trialNumber, launch.targetEpoch),
      args: [{
        sweepId, trialNumber: launch.trialNumber, runId: trialRunId(sweepId, launch.trialNumber), storeUri, dataset,
        model: trialConfig.model, training: trialConfig.training, stopAfterEpoch: launch.targetEpoch, ...(launch.plan ? { plan: launch.plan } : {}),
        ...(execution === 'local-activity' ? { execution, localTimeoutSeconds: sweep.localRungTimeoutSeconds } : {}),
      }],
    }));
    rung
      .then((outcome) => {
        rungSeconds = recordRungSeconds(rungSeconds, (Date.now() - startedAt) / 1000);
        book.recordRung(launch.trialNumber, outcome);
      })
      .catch((err: unknown) => {
        if (scope.consideredCancelled && isCancellation(err)) book.recordCancelled(launch.trialNumber);
        else book.recordFailure(launch.trialNumber, failureText(err));
      })
      .finally(() => {
        const row = book.row(launch.trialNumber);
        emit({ trial: launch.trialNumber, kind: 'result', ...(row ? { row } : {}) });
        rungScopes.delete(launch.trialNumber);
        training.delete(launch.trialNumber);
        changed = true;
      });
  };

  const activities = proxyActivities<SweepActivities>(CPU_ACTIVITY);
  /** Writes archived trials' rows to the store, a part at a time (all of them with `all`). */
  const writeArchived = async (all: boolean): Promise<void> => {
    while (book.unwritten.length >= (all ? 1 : archivePartSize) && patched(TRIAL_ARCHIVE_PATCH)) {
      const rows = book.unwritten.slice(0, archivePartSize);
      await activities.writeSweepTrialsPart({ sweepId, storeUri, part: book.archiveParts, rows });
      book.markWritten(rows.length);
    }
  };

  for (;;) {
    await writeArchived(false);
    const info = workflowInfo();
    const draining = info.continueAsNewSuggested || info.historyLength >= historyLimit;
    if (book.stopReason !== undefined) phase = 'stopping';
    else if (draining) phase = 'draining';
    if (!draining) for (const launch of book.launches(training)) startRung(launch);
    if (training.size === 0) {
      if (!book.hasWork(training)) break;
      if (draining) {
        // Nothing is in flight, so the next run takes over the whole sweep from the state alone.
        await writeArchived(true);
        await continueAsNew<typeof sweepWorkflow>({ ...input, dataset, state: book.toJSON(), continued: continued + 1, eventSeq, rungSeconds });
      }
    }
    changed = false;
    await condition(() => changed);
  }

  book.closeRunning();
  phase = 'writing';
  const counts = book.counts();
  const { leaderboardUri } = await activities.writeSweepLeaderboard({
    sweepId, storeUri, metric: sweep.metric, counts, leaderboard: [...book.leaderboard(), ...book.unwritten],
    ...(book.archiveParts > 0 ? { archiveParts: book.archiveParts } : {}), ...(book.stopReason ? { stopReason: book.stopReason } : {}),
  });
  const leaderboard = book.leaderboard(book.keep);
  phase = 'done';
  const bestTrial = book.best();
  const best = bestRow(book);
  return {
    sweepId, metric: sweep.metric, leaderboard, counts, leaderboardUri, dataset, continued,
    ...(best ? { best } : {}),
    ...(bestTrial ? { bestTrial } : {}),
    ...(book.stopReason ? { stopReason: book.stopReason } : {}),
  };
}

function bestRow(book: SweepBook): LeaderboardRow | undefined {
  const best = book.best();
  return best === undefined ? undefined : book.leaderboard().find((row) => row.trial === best.number);
}

function preparingProgress(runId: string): PipelineProgress {
  return { runId, phase: 'prepare', completed: [], epoch: 0, epochs: 0, trainingAttempt: 0 };
}

/** The innermost message of a child's failure: the one a user can act on. */
function failureText(err: unknown): string {
  let message = err instanceof Error ? err.message : String(err);
  let current: unknown = err;
  while (current instanceof Error) {
    if (current.message) message = current.message;
    current = current.cause;
  }
  return message;
}
