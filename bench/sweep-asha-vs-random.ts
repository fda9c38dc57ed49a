/**
 * Time to a target validation accuracy on real MNIST: ASHA against random search (the reference,
 * measured in the same run), same budget. Both arms are the real sweepWorkflow on a real Temporal
 * dev server with real training (tfjs, wasm): the same random sampler and seed, so both see the
 * same configurations in the same order; only the scheduler differs (asha, or none: every trial
 * trains training.epochs). Each sweep has `targetMetric` set, so it stops once a trial reaches it.
 *
 * Time to target = server close time of the first rung (child workflow) whose result reaches the
 * target, minus the sweep's start time: the moment the sweep learned it. The dataset is prepared
 * once, before either arm, and is not timed. ASHA runs first, so it alone pays for warming up.
 *
 *   node bin/run-ts.mjs bench/sweep-asha-vs-random.ts [--size 28] [--train 6000] [--epochs 9]
 *     [--trials 12] [--seeds 1[,2,...]] [--target 0.95] [--concurrency 1] [--min-epochs 1] [--eta 3]
 *     [--asha-mode promote|stop]
 *
 * Last measured (defaults with --seeds 1,2,3,4,5,6, ASHA in promote mode, 2 cores, load average ~2
 * from the bench itself): random / ASHA time to target 1.04x, 9.67x, 4.11x, 4.17x, 5.15x, 4.03x;
 * summed over seeds 3.05x: PASS against 3x, by a small margin (2.69x counting crossing epochs).
 * See README "Sweep benchmarks".
 */
import { parseArgs } from 'node:util';
import { silentLogger } from '../src/activities/logger.js';
import { parsePipelineConfig, type PipelineConfig } from '../src/core/config.js';
import type { DatasetManifest } from '../src/core/manifests.js';
import { metricOf, SweepBook, type RungOutcome } from '../src/core/sweep-state.js';
import { CPU_QUEUE, GPU_QUEUE, TASK_QUEUES } from '../src/core/task-queues.js';
import { createWorkers } from '../src/workers/create-workers.js';
import { datasetWorkflow } from '../src/workflows/pipeline-workflow.js';
import { sweepStatusQuery, sweepWorkflow, type SweepResult } from '../src/workflows/sweep-workflow.js';
import { trialRungWorkflowId } from '../src/workflows/trial-workflow.js';
import { executionTimes, loadAverageText, peakRssMiB, startBenchTemporal, type BenchTemporal } from './support/bench-temporal.js';

const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '28' },
    train: { type: 'string', default: '6000' },
    epochs: { type: 'string', default: '9' },
    trials: { type: 'string', default: '12' },
    seeds: { type: 'string', default: '1' },
    target: { type: 'string', default: '0.95' },
    concurrency: { type: 'string', default: '1' },
    'min-epochs': { type: 'string', default: '1' },
    eta: { type: 'string', default: '3' },
    'asha-mode': { type: 'string', default: 'promote' },
  },
});
const opt = {
  size: Number(args.size), train: Number(args.train), epochs: Number(args.epochs), trials: Number(args.trials), seeds: args.seeds.split(',').map(Number),
  target: Number(args.target), concurrency: Number(args.concurrency), minEpochs: Number(args['min-epochs']), eta: Number(args.eta),
  ashaMode: args['asha-mode'] as 'promote' | 'stop',
};
if (opt.ashaMode !== 'promote' && opt.ashaMode !== 'stop') throw new Error(`--asha-mode must be promote or stop, got ${JSON.stringify(opt.ashaMode)}`);

const SPACE = {
  // Five decades: adam diverges or stalls at the top and barely moves at the bottom, so most draws are poor.
  'training.learningRate': { type: 'log-uniform', low: 1e-5, high: 1 },
  'model.widthMultiplier': { type: 'choice', values: [0.25, 0.5, 1] },
};

type Arm = 'asha' | 'random';

function armConfig(arm: Arm, seed: number): PipelineConfig {
  return parsePipelineConfig({
    dataset: { inputShape: [opt.size, opt.size, 1], limit: { train: opt.train, test: 100 }, split: { val: 0.1, seed: 7 } },
    model: { architecture: 'small-cnn' },
    training: { epochs: opt.epochs, batchSize: 64, seed: 3 },
    sweep: {
      space: SPACE, sampler: 'random', seed, metric: 'val_accuracy', trials: opt.trials, concurrency: opt.concurrency, targetMetric: opt.target,
      scheduler: arm === 'asha' ? { kind: 'asha', minEpochs: opt.minEpochs, reductionFactor: opt.eta, mode: opt.ashaMode } : { kind: 'none' },
    },
  }, 'bench config');
}

interface Rung {
  trial: number;
  /** Epochs finished when the rung closed, and the validation accuracy there. */
  epochs: number;
  metric: number;
  /** Server close time, ms since the epoch. */
  close: number;
  /** Estimated moment the trial first crossed the target inside this rung (see crossingTime). */
  crossing?: number;
}

interface ArmResult {
  arm: Arm;
  seed: number;
  result: SweepResult;
  /** ms from the sweep's start to the first rung reaching the target; undefined if none did. */
  toTarget?: number;
  reachedBy?: Rung;
  /** The same, counting the epoch a trial crossed the target instead of its rung's end (estimate). */
  toTargetByEpoch?: number;
  total: number;
  epochsTrained: number;
}

/** Epoch milestones a trial's rungs stop at under this config (the sweep's own rule). */
function milestones(config: PipelineConfig): number[] {
  const book = SweepBook.create(config.sweep!, config.training.epochs);
  const out: number[] = [];
  for (let e = 0; e < config.training.epochs; e = book.nextTarget(e)) out.push(book.nextTarget(e));
  return out;
}

/**
 * When a trial that reports only at a rung's end crossed the target inside the rung: the rung's
 * close time minus the recorded seconds (training + validation) of the epochs after the crossing.
 * It ignores checkpoint writes after the crossing, so it is a little late, never early.
 */
function crossingTime(outcome: RungOutcome, fromEpoch: number, close: number): number | undefined {
  const epochs = outcome.training.history.filter((h) => h.epoch > fromEpoch && h.epoch <= outcome.training.epochsCompleted);
  const first = epochs.findIndex((h) => (h.valAccuracy ?? 0) >= opt.target);
  if (first < 0) return undefined;
  return close - epochs.slice(first + 1).reduce((s, h) => s + h.seconds * 1000, 0);
}

async function runArm(t: BenchTemporal, arm: Arm, seed: number, dataset: DatasetManifest): Promise<ArmResult> {
  const config = armConfig(arm, seed);
  const sweepId = `bench-${arm}-seed-${seed}`;
  const handle = await t.client.workflow.start(sweepWorkflow, { taskQueue: CPU_QUEUE, workflowId: sweepId, args: [{ sweepId, storeUri: t.storeUri, config, dataset }] });
  let shown = '';
  const progress = setInterval(() => {
    handle.query(sweepStatusQuery).then((s) => {
      const line = `  ${arm} seed ${seed}: ${s.counts.total} trials (${s.counts.completed} completed, ${s.counts.pruned} pruned, ${s.counts.failed} failed), best ${s.best?.metric?.toFixed(4) ?? '-'}`;
      if (line !== shown) process.stderr.write(`${line}\n`);
      shown = line;
    }, () => undefined);
  }, 1000);
  const result = await handle.result().finally(() => clearInterval(progress));
  const first = await executionTimes(t.client, sweepId, handle.firstExecutionRunId);
  const last = await executionTimes(t.client, sweepId);
  if (first === undefined || last?.close === undefined) throw new Error(`sweep ${sweepId} has no recorded start or close time`);

  const rungs: Rung[] = [];
  for (const row of result.leaderboard) {
    let fromEpoch = 0;
    for (const milestone of milestones(config)) {
      const id = trialRungWorkflowId(sweepId, row.trial, milestone);
      const times = await executionTimes(t.client, id);
      if (times?.close === undefined) break;
      const outcome = (await t.client.workflow.getHandle(id).result().catch(() => undefined)) as RungOutcome | undefined;
      if (outcome === undefined) break;
      const epochs = outcome.training.epochsCompleted;
      const metric = metricOf(outcome.training.history.find((h) => h.epoch === epochs), 'val_accuracy');
      const crossing = crossingTime(outcome, fromEpoch, times.close);
      rungs.push({ trial: row.trial, epochs, metric, close: times.close, ...(crossing !== undefined ? { crossing } : {}) });
      fromEpoch = epochs;
    }
  }
  const reached = rungs.filter((r) => r.metric >= opt.target).sort((a, b) => a.close - b.close);
  const crossings = rungs.flatMap((r) => (r.crossing === undefined ? [] : [r.crossing]));
  const reachedBy = reached[0];
  return {
    arm, seed, result, total: last.close - first.start,
    epochsTrained: result.leaderboard.reduce((s, r) => s + r.epochsTrained, 0),
    ...(reachedBy ? { reachedBy, toTarget: reachedBy.close - first.start } : {}),
    ...(crossings.length > 0 ? { toTargetByEpoch: Math.min(...crossings) - first.start } : {}),
  };
}

function seconds(ms: number | undefined): string {
  return ms === undefined ? 'not reached' : `${(ms / 1000).toFixed(1)} s`;
}

function row(r: ArmResult): string {
  const c = r.result.counts;
  const reached = r.reachedBy ? `trial ${r.reachedBy.trial} at epoch ${r.reachedBy.epochs} (${r.reachedBy.metric.toFixed(4)})` : 'none';
  return `${r.arm.padEnd(6)} seed ${r.seed}: time to target ${seconds(r.toTarget).padStart(11)}   sweep ${seconds(r.total).padStart(9)}   ` +
    `trials ${c.total} (${c.completed} completed, ${c.pruned} pruned, ${c.failed} failed, ${c.stopped} stopped)   epochs trained ${r.epochsTrained}   reached by ${reached}`;
}

async function main(): Promise<void> {
  const t = await startBenchTemporal('dv-bench-asha-');
  const workers = await createWorkers({
    connection: await t.workerConnection(), queues: TASK_QUEUES, logger: silentLogger, maxConcurrentActivities: { [GPU_QUEUE]: opt.concurrency },
  });
  const running = Promise.all(workers.map((w) => w.run()));
  try {
    const base = armConfig('random', 0);
    const dataset = await t.client.workflow.execute(datasetWorkflow, {
      taskQueue: CPU_QUEUE, workflowId: 'bench-data', args: [{ runId: 'bench-data', storeUri: t.storeUri, dataset: base.dataset }],
    });
    console.log(
      `sweep ASHA vs random search on MNIST ${opt.size}x${opt.size}: ${dataset.splits.train.count} train / ${dataset.splits.val.count} val images, small-cnn, ` +
      `${opt.epochs} epochs at most, space ${JSON.stringify(SPACE)}, budget ${opt.trials} trials, random sampler seeds ${opt.seeds.join(', ')}, ` +
      `concurrency ${opt.concurrency}, ASHA (${opt.ashaMode} mode) minEpochs ${opt.minEpochs} eta ${opt.eta}, target val_accuracy >= ${opt.target}`,
    );
    const pairs: [ArmResult, ArmResult][] = [];
    for (const seed of opt.seeds) {
      const asha = await runArm(t, 'asha', seed, dataset);
      console.log(row(asha));
      const random = await runArm(t, 'random', seed, dataset);
      console.log(row(random));
      console.log(
        `  seed ${seed}: random / ASHA time to target ${ratioText(random.toTarget, asha.toTarget)}; counting the epoch a trial crossed the target ` +
        `instead of its rung's end (estimate) ${seconds(random.toTargetByEpoch)} / ${seconds(asha.toTargetByEpoch)} = ${ratioText(random.toTargetByEpoch, asha.toTargetByEpoch)}; ` +
        `total sweep time ${ratioText(random.total, asha.total)}; epochs trained ${random.epochsTrained} / ${asha.epochsTrained}`,
      );
      pairs.push([asha, random]);
    }
    // Over several seeds: total time to target of each arm, so a seed where both are quick does not weigh like one where random search is slow.
    const sum = (arm: 0 | 1, key: 'toTarget' | 'toTargetByEpoch') => pairs.reduce((s, p) => s + (p[arm][key] ?? NaN), 0);
    const ratio = sum(1, 'toTarget') / sum(0, 'toTarget');
    console.log(
      `time to val_accuracy >= ${opt.target}, random / ASHA${pairs.length > 1 ? `, summed over ${pairs.length} seeds` : ''}: ${ratio.toFixed(2)}x (target >= 3x) ` +
      `${ratio >= 3 ? 'PASS' : 'FAIL'}; counting crossing epochs (estimate) ${(sum(1, 'toTargetByEpoch') / sum(0, 'toTargetByEpoch')).toFixed(2)}x`,
    );
    console.log(`peak RSS ${peakRssMiB().toFixed(0)} MiB (this process: workers and training; the Temporal server excluded); load average ${loadAverageText()}`);
  } finally {
    // A SIGINT/SIGTERM has already stopped them (the Temporal runtime's own handlers).
    workers.forEach((w) => w.getState() === 'RUNNING' && w.shutdown());
    await running;
    await t.close();
  }
}

function ratioText(random: number | undefined, asha: number | undefined): string {
  return random === undefined || asha === undefined ? 'n/a' : `${(random / asha).toFixed(2)}x`;
}

await main();
