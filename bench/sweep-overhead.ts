/**
 * Orchestration overhead per sweep trial: the real sweepWorkflow on a real Temporal dev server
 * runs N trials (scheduler none, random sampler, concurrency 4) whose training is a fake that
 * sleeps ~1 s (bench/support/fake-trial-activities.ts), once per rung execution
 * (sweep.trialExecution: activity, local-activity and auto, the default; --execution picks one),
 * across 4 GPU workers in this process (one training at a time each) and one CPU worker hosting
 * the sweep. Overhead per trial = trial wall time (child workflow start to close, server times)
 * minus the training's measured sleep; also, from the sweep's whole wall time, wall x
 * concurrency / trials minus the mean training time, which adds the sweep's own gaps (starting
 * the next trial, draining before continue-as-new, writing the leaderboard).
 *
 * Reference, measured in the same run: the same trial workflows with trivially short training,
 * started by a bare fan-out workflow (no sampler, scheduler or trial table) with the same
 * concurrency: what Temporal itself costs per child.
 *
 * The sweep's history limit is lowered from its default (10,000 events, which 500 such trials do
 * not reach: they make about 7.5 events each) to 1,000, so continue-as-new happens a few times
 * within the run and its cost (the drain before it, the state carried) is in the figures; the
 * count is printed.
 *
 *   node bin/run-ts.mjs bench/sweep-overhead.ts [--trials 500] [--train-ms 1000] [--workers 4]
 *     [--reference 500] [--history-limit 1000] [--execution all|activity|local-activity|auto]
 *
 * Last measured (defaults, all three executions in one run; 2 cores, load average 0.8-1.4; the
 * dev server's SQLite in WAL mode with synchronous=normal): 500 trials each, continue-as-new 4
 * times; child wall minus training mean 132.4 ms (p95 162.1) with rungs as activities (FAIL),
 * 43.3 ms (p95 88.8) as local activities and 49.1 ms (p95 90.2) with auto (493 of 500 rungs
 * local, from trial 7), both PASS against <= 50 ms; from the sweep's wall time 263.0, 90.8 and
 * 104.5 ms. Reference (bare fan-out): 201.4 ms a child. Auto alone (`--execution auto`, load
 * 0.9-1.7): 37.9 ms (p95 70.4), 85.6 ms from the wall time, reference 169.4 ms. See README
 * "Sweep benchmarks".
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import { createCpuActivities } from '../src/activities/cpu-activities.js';
import { silentLogger } from '../src/activities/logger.js';
import { createStoreCache } from '../src/activities/store-cache.js';
import { createSweepActivities } from '../src/activities/sweep-activities.js';
import { parsePipelineConfig } from '../src/core/config.js';
import { CPU_QUEUE, GPU_QUEUE } from '../src/core/task-queues.js';
import { createTfjsEngine } from '../src/ml/tfjs-engine.js';
import { datasetWorkflow } from '../src/workflows/pipeline-workflow.js';
import { sweepWorkflow } from '../src/workflows/sweep-workflow.js';
import { trialRungWorkflowId } from '../src/workflows/trial-workflow.js';
import { executionTimes, loadAverageText, mean, peakRssMiB, percentile, startBenchTemporal } from './support/bench-temporal.js';
import { createFakeTrialActivities } from './support/fake-trial-activities.js';
import { phaseLines, trialPhases } from './support/trial-phases.js';
import { fanOutWorkflow } from './support/overhead-workflows.js';

const { values: args } = parseArgs({
  options: {
    trials: { type: 'string', default: '500' },
    'train-ms': { type: 'string', default: '1000' },
    workers: { type: 'string', default: '4' },
    reference: { type: 'string', default: '500' },
    'history-limit': { type: 'string', default: '1000' },
    execution: { type: 'string', default: 'all' },
  },
});
const TRIALS = Number(args.trials);
const TRAIN_MS = Number(args['train-ms']);
const WORKERS = Number(args.workers);
const REFERENCE = Number(args.reference);
const HISTORY_LIMIT = Number(args['history-limit']);
const TARGET_MS = 50;
type Execution = 'activity' | 'local-activity' | 'auto';
const EXECUTIONS = (args.execution === 'all' ? ['activity', 'local-activity', 'auto'] : [args.execution]) as Execution[];
for (const e of EXECUTIONS) if (e !== 'activity' && e !== 'local-activity' && e !== 'auto') throw new Error(`--execution must be activity, local-activity, auto or all, got ${JSON.stringify(e)}`);
const EXECUTION_TEXT: Record<Execution, string> = {
  activity: 'activities',
  'local-activity': 'local activities',
  auto: 'auto (activities until four rungs finish, then local activities while rungs stay under a minute)',
};

const config = parsePipelineConfig({
  dataset: { inputShape: [28, 28, 1], limit: { train: 1000, test: 100 }, split: { val: 0.1, seed: 7 } },
  training: { epochs: 1, seed: 3 },
  sweep: {
    space: { 'training.learningRate': { type: 'log-uniform', low: 1e-5, high: 1 }, 'model.widthMultiplier': { type: 'choice', values: [0.25, 0.5, 1] } },
    sampler: 'random', seed: 1, scheduler: 'none', trials: TRIALS, concurrency: WORKERS,
  },
}, 'bench config');

interface Overheads {
  /** Per child: wall time (start to close) minus its measured training, ms. */
  perChild: number[];
  /** Training measured inside the fake, ms. */
  training: number[];
}

/** Start and close of each child, minus the training its fake recorded; runs a few describes at a time. */
async function childOverheads(client: Client, ids: string[], trainingMs: Map<string, number>): Promise<Overheads> {
  const out: Overheads = { perChild: [], training: [] };
  for (let i = 0; i < ids.length; i += 16) {
    const batch = await Promise.all(ids.slice(i, i + 16).map(async (id) => [id, await executionTimes(client, id)] as const));
    for (const [id, times] of batch) {
      const training = trainingMs.get(id);
      if (times?.close === undefined || training === undefined) throw new Error(`child ${id} has no close time or recorded training`);
      out.perChild.push(times.close - times.start - training);
      out.training.push(training);
    }
  }
  return out;
}

function ms(value: number): string {
  return `${value.toFixed(1)} ms`;
}

function verdict(value: number): string {
  return `${value <= TARGET_MS ? 'PASS' : 'FAIL'} (target <= ${TARGET_MS} ms)`;
}

async function main(): Promise<void> {
  const t = await startBenchTemporal('dv-bench-overhead-');
  const workflowsPath = fileURLToPath(new URL('./support/overhead-workflows.ts', import.meta.url));
  const bundle = { code: (await bundleWorkflowCode({ workflowsPath, logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} } })).code };
  let sleepMs = 0;
  const trainingMs = new Map<string, number>();
  const fake = createFakeTrialActivities(() => sleepMs, trainingMs);
  const stores = createStoreCache();
  const workers: Worker[] = [
    await Worker.create({
      connection: await t.workerConnection(), taskQueue: CPU_QUEUE, workflowBundle: bundle,
      activities: { ...createCpuActivities({ stores, engine: createTfjsEngine(), logger: silentLogger }), ...createSweepActivities({ stores }) },
    }),
  ];
  for (let i = 0; i < WORKERS; i++) {
    workers.push(await Worker.create({
      connection: await t.workerConnection(), taskQueue: GPU_QUEUE, workflowBundle: bundle, activities: { trainTrialRung: fake.trainTrialRung },
      maxConcurrentActivityTaskExecutions: 1, maxConcurrentLocalActivityExecutions: 1, maxConcurrentWorkflowTaskExecutions: 2,
    }));
  }
  const running = Promise.all(workers.map((w) => w.run()));
  try {
    const dataset = await t.client.workflow.execute(datasetWorkflow, {
      taskQueue: CPU_QUEUE, workflowId: 'bench-data', args: [{ runId: 'bench-data', storeUri: t.storeUri, dataset: config.dataset }],
    });
    const child = { sweepId: 'reference', storeUri: t.storeUri, dataset, model: config.model, training: config.training, stopAfterEpoch: 1 };
    console.log(
      `sweep orchestration overhead: ${TRIALS} trials of ${TRAIN_MS} ms fake training, ${WORKERS} GPU workers in this process (one training each at a time), ` +
      `sweep concurrency ${WORKERS}, random sampler, scheduler none`,
    );

    // Warm-up: bundles loaded into every worker's isolate, connections and caches in use.
    await t.client.workflow.execute(fanOutWorkflow, { taskQueue: CPU_QUEUE, workflowId: 'warm-up', args: [{ prefix: 'warm-up', children: 4 * WORKERS, concurrency: WORKERS, child }] });

    const refStart = performance.now();
    const refFailed = await t.client.workflow.execute(fanOutWorkflow, {
      taskQueue: CPU_QUEUE, workflowId: 'reference', args: [{ prefix: 'reference', children: REFERENCE, concurrency: WORKERS, child }],
    });
    const refWall = performance.now() - refStart;
    const ref = await childOverheads(t.client, Array.from({ length: REFERENCE }, (_, i) => `reference/trial-${i}`), trainingMs);
    const refPerChildFromWall = (refWall * WORKERS) / REFERENCE - mean(ref.training);
    console.log(
      `reference: ${REFERENCE} trial workflows, trivially short training (mean ${ms(mean(ref.training))}), bare fan-out at concurrency ${WORKERS}` +
      `${refFailed > 0 ? `, ${refFailed} FAILED` : ''}: wall ${(refWall / 1000).toFixed(1)} s; per child: wall minus training mean ${ms(mean(ref.perChild))}, ` +
      `p95 ${ms(percentile(ref.perChild, 95))}; from the wall time ${ms(refPerChildFromWall)}`,
    );

    sleepMs = TRAIN_MS;
    for (const execution of EXECUTIONS) {
      const sweepId = `overhead-${execution}`;
      const handle = await t.client.workflow.start(sweepWorkflow, { taskQueue: CPU_QUEUE, workflowId: sweepId, args: [{ sweepId, storeUri: t.storeUri, config: { ...config, sweep: { ...config.sweep!, trialExecution: execution } }, dataset, historyLimit: HISTORY_LIMIT }] });
      const result = await handle.result();
      const lastRun = await handle.describe();
      const first = await executionTimes(t.client, sweepId, handle.firstExecutionRunId);
      const last = await executionTimes(t.client, sweepId);
      if (first === undefined || last?.close === undefined) throw new Error('the sweep has no recorded start or close time');
      const wall = last.close - first.start;
      const ids = Array.from({ length: result.counts.total }, (_, n) => trialRungWorkflowId(sweepId, n, 1));
      const trials = await childOverheads(t.client, ids, trainingMs);
      const meanTraining = mean(trials.training);
      const perTrialFromWall = (wall * WORKERS) / result.counts.total - meanTraining;
      const c = result.counts;
      console.log(
        `sweep, trials run as ${EXECUTION_TEXT[execution]} (sweep.trialExecution ${execution}): ${c.total} trials (${c.completed} completed, ${c.failed} failed), wall ${(wall / 1000).toFixed(1)} s, continue-as-new ${result.continued} time(s) ` +
        `(history limit ${HISTORY_LIMIT} events; the last run's history ${lastRun.historyLength} events), result payload ${(JSON.stringify(result).length / 1024).toFixed(0)} KiB; training measured mean ${ms(meanTraining)}`,
      );
      if (execution === 'auto') {
        const local = await Promise.all(ids.map(async (id) => ((await t.client.workflow.getHandle(id).fetchHistory()).events ?? [])
          .some((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')));
        console.log(`  rungs run as local activities: ${local.filter(Boolean).length} of ${ids.length} (the first from trial ${local.indexOf(true)})`);
      }
      const childMean = mean(trials.perChild);
      console.log(`  per trial, child wall time minus training: mean ${ms(childMean)} ${verdict(childMean)}, p95 ${ms(percentile(trials.perChild, 95))}, max ${ms(Math.max(...trials.perChild))}`);
      console.log(`  per trial from the sweep's wall time (${(wall / 1000).toFixed(1)} s x ${WORKERS} / ${c.total} - ${ms(meanTraining)}): ${ms(perTrialFromWall)} ${verdict(perTrialFromWall)}`);
      console.log(
        `  against the reference: child overhead ${(childMean / mean(ref.perChild)).toFixed(2)}x the bare child's, ` +
        `${(perTrialFromWall / refPerChildFromWall).toFixed(2)}x from wall times; overhead is ${((100 * perTrialFromWall) / meanTraining).toFixed(1)} % of the training time`,
      );
      // Where the time goes, from every 10th trial's own history.
      const sample = ids.filter((_, i) => i % 10 === 0);
      const phases = await Promise.all(sample.map((id) => trialPhases(t.client, id, trainingMs.get(id) ?? 0)));
      console.log(`  where a trial's overhead goes (mean over ${sample.length} trials, server event times):\n${phaseLines(phases).join('\n')}`);
    }
    console.log(`peak RSS ${peakRssMiB().toFixed(0)} MiB (this process: ${workers.length} workers and the client; the Temporal server excluded); load average ${loadAverageText()}`);
  } finally {
    workers.forEach((w) => w.getState() === 'RUNNING' && w.shutdown());
    await running;
    await t.close();
  }
}

await main();
