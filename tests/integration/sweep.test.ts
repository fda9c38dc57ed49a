import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/activities/logger.js';
import type { DatasetManifest } from '../../src/core/manifests.js';
import { parseSearchSpace, RandomSampler } from '../../src/core/search/index.js';
import { CPU_QUEUE, TASK_QUEUES } from '../../src/core/task-queues.js';
import { createWorkers, workflowBundle } from '../../src/workers/create-workers.js';
import { datasetWorkflow, trainingPipelineWorkflow } from '../../src/workflows/pipeline-workflow.js';
import { trialRungWorkflowId } from '../../src/workflows/trial-workflow.js';
import {
  enqueueTrialSignal, extendBudgetSignal, leaderboardQuery, setConcurrencySignal, stopSweepNowSignal, stopSweepSignal, sweepEventsQuery, sweepStatusQuery, sweepWorkflow, type SweepResult,
} from '../../src/workflows/sweep-workflow.js';
import { waitFor } from './support/cli-process.js';
import { tinySweepConfig } from './support/sweep-config.js';
import { startTemporal } from './support/temporal.js';

let env: TestWorkflowEnvironment;
let dir: string;
let storeUri: string;
let workers: Worker[];
let running: Promise<unknown>;
let dataset: DatasetManifest;

beforeAll(async () => {
  env = await startTemporal();
  dir = await mkdtemp(join(tmpdir(), 'dv-sweep-'));
  storeUri = `file://${dir}/artifacts`;
  workers = await createWorkers({
    connection: env.nativeConnection, queues: TASK_QUEUES, logger: silentLogger, workflowBundle: await workflowBundle(), maxConcurrentActivities: { 'vision-gpu': 2 },
  });
  running = Promise.all(workers.map((w) => w.run()));
  const config = tinySweepConfig({});
  dataset = await env.client.workflow.execute(datasetWorkflow, { taskQueue: CPU_QUEUE, workflowId: 'sweep-data', args: [{ runId: 'sweep-data', storeUri, dataset: config.dataset }] });
});
afterAll(async () => {
  workers?.forEach((w) => w.shutdown());
  await running;
  await env?.teardown();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Every trial trained each of its epochs once: rungs resumed from checkpoints, never from scratch. */
function expectTrainedOnce(result: SweepResult): void {
  for (const row of result.leaderboard) expect({ trial: row.trial, trained: row.epochsTrained }).toEqual({ trial: row.trial, trained: row.epochs });
}

describe('sweepWorkflow', () => {
  it('an ASHA sweep prunes poor trials at rungs, completes the rest, and writes its leaderboard', async () => {
    const config = tinySweepConfig({ scheduler: { kind: 'asha', minEpochs: 1, reductionFactor: 2 }, trials: 6, concurrency: 2 });
    const handle = await env.client.workflow.start(sweepWorkflow, { taskQueue: CPU_QUEUE, workflowId: 'asha', args: [{ sweepId: 'asha', storeUri, config, dataset }] });
    const during = await waitFor('a finished rung', async () => {
      const board = await handle.query(leaderboardQuery);
      return board.some((r) => r.metric !== undefined) ? board : undefined;
    }, 90_000, 200);
    expect(during[0]!.metric).toBeGreaterThan(0);
    const result = await handle.result();

    expect(result.counts.total).toBe(6);
    expect(result.counts.completed + result.counts.pruned).toBe(6);
    expect(result.counts.pruned).toBeGreaterThan(0);
    // Rungs at 1 and 2 epochs; completed trials reach training.epochs (4).
    for (const row of result.leaderboard) {
      if (row.status === 'completed') expect(row.epochs).toBe(4);
      else expect([1, 2]).toContain(row.epochs);
      expect(row.modelUri).toContain(`asha/trial-${row.trial}/`);
    }
    expectTrainedOnce(result);
    const metrics = result.leaderboard.map((r) => r.metric!);
    expect(metrics).toEqual([...metrics].sort((a, b) => b - a));
    expect(result.best?.trial).toBe(result.leaderboard[0]!.trial);
    expect(result.bestTrial?.history.map((h) => h.epoch)).toEqual(Array.from({ length: result.best!.epochs }, (_, i) => i + 1));

    const written = JSON.parse(await readFile(new URL(result.leaderboardUri), 'utf8')) as { leaderboard: unknown[]; counts: unknown };
    expect(written.leaderboard).toEqual(result.leaderboard);
    expect(result.leaderboardUri).toMatch(/sweeps\/asha\/leaderboard\.json$/);
  }, 150_000);

  it('steering: setConcurrency, enqueue and extendBudget take effect, a bad request is refused by name, stop ends the sweep', async () => {
    const config = tinySweepConfig({ scheduler: 'none', trials: 3, concurrency: 1 }, { epochs: 1 });
    const handle = await env.client.workflow.start(sweepWorkflow, { taskQueue: CPU_QUEUE, workflowId: 'steer', args: [{ sweepId: 'steer', storeUri, config, dataset }] });
    const wanted = { 'training.learningRate': 0.005, 'model.widthMultiplier': 0.5 };
    await handle.signal(enqueueTrialSignal, wanted);
    await handle.signal(enqueueTrialSignal, { 'training.learnRate': 0.1 });
    await handle.signal(setConcurrencySignal, 2);
    await handle.signal(extendBudgetSignal, 46);

    const status = await waitFor('two trials training at once', async () => {
      const s = await handle.query(sweepStatusQuery);
      return s.training.length === 2 ? s : undefined;
    }, 60_000, 100);
    expect(status.concurrency).toBe(2);
    expect(status.budget).toBe(50); // 3 + 1 enqueued + 46
    expect(status.notices.join('\n')).toContain('enqueue.training.learnRate is not a parameter of the search space');

    // More trials than the first budget plus the enqueued one: the extension is in use.
    await waitFor('a fifth trial', async () => ((await handle.query(sweepStatusQuery)).counts.total >= 5 ? true : undefined), 90_000, 100);
    await handle.signal(stopSweepSignal, 'enough');
    const result = await handle.result();

    expect(result.stopReason).toBe('enough');
    expect(result.counts.total).toBeLessThan(10);
    expect(result.counts.running).toBe(0);
    const enqueued = result.leaderboard.filter((r) => r.source === 'enqueued');
    expect(enqueued).toHaveLength(1);
    expect(enqueued[0]!.config).toEqual(wanted);
    // Enqueued configurations run before sampled ones not yet started.
    expect(enqueued[0]!.trial).toBeLessThanOrEqual(1);
    expectTrainedOnce(result);
  }, 150_000);

  it.each(['activity', 'local-activity'] as const)('stopNow cancels the rungs training now (rungs as %s): their trials end stopped and the rung workflows cancelled', async (trialExecution) => {
    // 400 epochs would take minutes; a 5 s heartbeat timeout delivers the cancellation to an
    // activity within ~4 s, and a local activity's worker cancels it itself.
    const base = tinySweepConfig({ scheduler: 'none', trials: 3, concurrency: 2 }, { epochs: 400, heartbeatTimeoutSeconds: 5 });
    const config = { ...base, sweep: { ...base.sweep!, trialExecution } };
    const sweepId = `stop-now-${trialExecution}`;
    const handle = await env.client.workflow.start(sweepWorkflow, { taskQueue: CPU_QUEUE, workflowId: sweepId, args: [{ sweepId, storeUri, config, dataset }] });
    await waitFor('two rungs training', async () => ((await handle.query(sweepStatusQuery)).training.length === 2 ? true : undefined), 60_000, 100);
    await handle.signal(stopSweepNowSignal, 'enough');
    const result = await handle.result();

    expect(result.stopReason).toBe('enough');
    expect(result.counts).toMatchObject({ total: 2, stopped: 2, failed: 0, completed: 0 });
    for (const row of result.leaderboard) expect(row).toMatchObject({ status: 'stopped', detail: 'rung cancelled: enough', epochs: 0 });
    for (const trial of [0, 1]) {
      const rung = await env.client.workflow.getHandle(trialRungWorkflowId(sweepId, trial, 400)).describe();
      expect(rung.status.name).toBe('CANCELLED');
    }
  }, 150_000);

  it('a forced continue-as-new carries every trial, the sampler and the scheduler', async () => {
    const config = tinySweepConfig({ scheduler: { kind: 'asha', minEpochs: 1, reductionFactor: 2 }, trials: 5, concurrency: 2 }, { epochs: 2 });
    const handle = await env.client.workflow.start(sweepWorkflow, {
      taskQueue: CPU_QUEUE, workflowId: 'can', args: [{ sweepId: 'can', storeUri, config, dataset, historyLimit: 12 }],
    });
    const result = await handle.result();

    expect(result.continued).toBeGreaterThanOrEqual(2);
    expect(result.counts.total).toBe(5);
    expect(result.leaderboard.map((r) => r.trial).sort()).toEqual([0, 1, 2, 3, 4]);
    // Trial n is the sampler's n-th proposal: the sampler state crossed every continue-as-new.
    const sampler = new RandomSampler({ space: parseSearchSpace(config.sweep!.space), seed: 1 });
    for (const row of result.leaderboard) expect(row.config).toEqual(sampler.ask(row.trial));
    expectTrainedOnce(result);
    for (const row of result.leaderboard) expect(['completed', 'pruned']).toContain(row.status);
  }, 150_000);

  it('ASHA in promote mode: trials pause at rungs, only promoted ones train on, none is left paused, every epoch trained once', async () => {
    const config = tinySweepConfig({ scheduler: { kind: 'asha', minEpochs: 1, reductionFactor: 2, mode: 'promote' }, trials: 4, concurrency: 2 }, { epochs: 2 });
    const result = await env.client.workflow.execute(sweepWorkflow, { taskQueue: CPU_QUEUE, workflowId: 'promote', args: [{ sweepId: 'promote', storeUri, config, dataset }] });

    expect(result.counts).toMatchObject({ total: 4, paused: 0, running: 0, failed: 0 });
    // 4 results at rung 1 in the end: the top 2 were promoted to 2 epochs (training.epochs), as
    // was any trial in the top half of the results there when it was promoted; the rest end pruned.
    expect(result.leaderboard.filter((r) => r.epochs === 2).length).toBeGreaterThanOrEqual(2);
    for (const row of result.leaderboard) {
      if (row.epochs === 2) expect(row.status).toBe('completed');
      else expect(row).toMatchObject({ epochs: 1, status: 'pruned', detail: expect.stringMatching(/^not promoted from rung 1: (3rd|4th) of 4/) });
    }
    expectTrainedOnce(result);
  }, 150_000);

  it('trials run as local activities (sweep.trialExecution) train without a dispatched activity and reach the same results', async () => {
    const run = async (sweepId: string, trialExecution: 'activity' | 'local-activity') => {
      const base = tinySweepConfig({ scheduler: 'none', trials: 3, concurrency: 2 }, { epochs: 2 });
      const config = { ...base, sweep: { ...base.sweep!, trialExecution } };
      return env.client.workflow.execute(sweepWorkflow, { taskQueue: CPU_QUEUE, workflowId: sweepId, args: [{ sweepId, storeUri, config, dataset }] });
    };
    const local = await run('local', 'local-activity');
    const remote = await run('remote', 'activity');

    const summary = (r: SweepResult) => r.leaderboard.map((row) => ({ trial: row.trial, status: row.status, epochs: row.epochs, metric: row.metric })).sort((a, b) => a.trial - b.trial);
    expect(summary(local)).toEqual(summary(remote));
    expectTrainedOnce(local);
    const history = await env.client.workflow.getHandle(trialRungWorkflowId('local', 0, 2)).fetchHistory();
    const events = history.events ?? [];
    expect(events.some((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')).toBe(true);
    expect(events.some((e) => e.activityTaskScheduledEventAttributes)).toBe(false);
  }, 150_000);

  it('trialExecution auto (the default): the first rungs run as activities, and once four have finished within a minute the rest run locally', async () => {
    const config = tinySweepConfig({ scheduler: 'none', trials: 8, concurrency: 2 }, { epochs: 1 });
    expect(config.sweep!.trialExecution).toBe('auto');
    const sweepId = 'auto-execution';
    const handle = await env.client.workflow.start(sweepWorkflow, { taskQueue: CPU_QUEUE, workflowId: sweepId, args: [{ sweepId, storeUri, config, dataset }] });
    const result = await handle.result();
    expect(result.counts).toMatchObject({ total: 8, completed: 8 });
    expectTrainedOnce(result);
    const started = new Map((await handle.query(sweepEventsQuery)).filter((e) => e.kind === 'started').map((e) => [e.trial, e.execution]));
    // At concurrency 2, trial n starts once n - 1 rungs have finished, at most: trials 0-3 before
    // the fourth; trials 6 and 7 after at least five.
    for (const trial of [0, 1, 2, 3]) expect(started.get(trial), `trial ${trial}`).toBe('activity');
    for (const trial of [6, 7]) expect(started.get(trial), `trial ${trial}`).toBe('local-activity');
    const kinds = async (trial: number) => {
      const events = (await env.client.workflow.getHandle(trialRungWorkflowId(sweepId, trial, 1)).fetchHistory()).events ?? [];
      return {
        local: events.some((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity'),
        dispatched: events.some((e) => e.activityTaskScheduledEventAttributes),
      };
    };
    expect(await kinds(0)).toEqual({ local: false, dispatched: true });
    expect(await kinds(7)).toEqual({ local: true, dispatched: false });
  }, 150_000);

  it('a long sweep archives trials below its leaderboard head to the store in parts, across continue-as-new, and the final leaderboard has every trial', async () => {
    const config = tinySweepConfig({ scheduler: 'none', trials: 8, concurrency: 2 }, { epochs: 1 });
    const sweepId = 'archived';
    const handle = await env.client.workflow.start(sweepWorkflow, {
      taskQueue: CPU_QUEUE, workflowId: sweepId, args: [{ sweepId, storeUri, config, dataset, leaderboardKeep: 2, archivePartSize: 2, historyLimit: 30 }],
    });
    const result = await handle.result();
    expect(result.continued).toBeGreaterThanOrEqual(1);
    expect(result.counts).toMatchObject({ total: 8, completed: 8 });
    // The result and the query carry the head only; the store has every trial, ranked.
    expect(result.leaderboard.map((r) => r.rank)).toEqual([1, 2]);
    const written = JSON.parse(await readFile(new URL(result.leaderboardUri), 'utf8')) as { leaderboard: SweepResult['leaderboard'] };
    expect(written.leaderboard.map((r) => r.rank)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(written.leaderboard.map((r) => r.trial).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(written.leaderboard.slice(0, 2)).toEqual(result.leaderboard);
    const metrics = written.leaderboard.map((r) => r.metric!);
    expect([...metrics].sort((a, b) => b - a)).toEqual(metrics);
    for (const row of written.leaderboard) expect(row.modelUri).toContain(`runs/${sweepId}/trial-${row.trial}/`);
    const parts = await readdir(join(dir, 'artifacts', 'sweeps', sweepId, 'trials'));
    expect(parts.filter((f) => f.startsWith('part-')).length).toBeGreaterThanOrEqual(2);
    expect(result.best?.trial).toBe(written.leaderboard[0]!.trial);
    expect(result.bestTrial?.history.length).toBe(1);
    // The events query of the last run: numbered on from the earlier runs, a start and a result for each of its rungs.
    const events = await handle.query(sweepEventsQuery);
    expect(events.length).toBeGreaterThan(0);
    expect(events[0]!.seq).toBeGreaterThan(1);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => events[0]!.seq + i));
    for (const e of events.filter((x) => x.kind === 'result')) expect(e.row).toMatchObject({ trial: e.trial, status: 'completed', epochs: 1 });
    expect(events.filter((e) => e.kind === 'result').length).toBe(events.filter((e) => e.kind === 'started').length);
  }, 150_000);

  it('a pipeline whose config has a sweep runs it for phases 3-4 and takes the best trial into evaluation and validation', async () => {
    const config = tinySweepConfig({ scheduler: 'none', trials: 2, concurrency: 2 }, { epochs: 1 });
    const result = await env.client.workflow.execute(trainingPipelineWorkflow, { taskQueue: CPU_QUEUE, workflowId: 'swept-run', args: [{ runId: 'swept-run', storeUri, config }] });

    expect(result.sweep).toMatchObject({ sweepId: 'swept-run-sweep', metric: 'val_accuracy', trials: 2 });
    expect(result.training.modelUri).toContain(`runs/swept-run-sweep/trial-${result.sweep!.bestTrial}/model/`);
    expect(result.training.history.at(-1)?.valAccuracy).toBe(result.sweep!.bestMetric);
    expect(result.plan.widthMultiplier).toBeGreaterThan(0);
    expect(result.evaluation.count).toBe(result.dataset.splits.test.count);
    expect(result.validation.throughputImgPerS).toBeGreaterThan(0);
    const board = JSON.parse(await readFile(new URL(result.sweep!.leaderboardUri), 'utf8')) as { leaderboard: { trial: number }[] };
    expect(board.leaderboard[0]!.trial).toBe(result.sweep!.bestTrial);
  }, 150_000);
});
