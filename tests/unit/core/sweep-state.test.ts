import { describe, expect, it } from 'vitest';
import { parsePipelineConfig } from '../../../src/core/config.js';
import type { ModelPlan, TrainResult } from '../../../src/core/manifests.js';
import { rankRows, SweepBook, trainResultOf, type RungOutcome } from '../../../src/core/sweep-state.js';

const PLAN: ModelPlan = { architecture: 'small-cnn', inputShape: [12, 12, 1], numClasses: 10, paramsCount: 100, widthMultiplier: 1, dropout: 0.25, planUri: 'file:///p.json' };

function book(sweep: Record<string, unknown>, epochs = 4): SweepBook {
  const config = parsePipelineConfig({
    training: { epochs },
    sweep: { space: { 'training.learningRate': { type: 'log-uniform', low: 1e-4, high: 1e-1 }, 'training.optimizer': { type: 'choice', values: ['adam', 'sgd'] } }, sampler: 'random', seed: 5, ...sweep },
  });
  return SweepBook.create(config.sweep!, config.training.epochs);
}

/** A rung that trained from `from` to `values.length` epochs, with these val accuracies for epochs 1..n. */
function rung(requestedEpoch: number, values: number[], from = 0, attempts = 1): RungOutcome {
  const history = values.map((v, i) => ({ epoch: i + 1, loss: 1 - v, accuracy: v, valLoss: 1 - v, valAccuracy: v, imagesPerSecond: 1, seconds: 1 }));
  const training: TrainResult = {
    modelUri: `file:///m${values.length}`, checkpointUris: history.map((h) => `file:///c${h.epoch}`), historyUri: 'file:///h', history,
    bestEpoch: 1, epochsCompleted: values.length, resumedFromEpoch: from, attempts, engine: 'tfjs', backend: 'wasm',
  };
  return { requestedEpoch, plan: PLAN, training };
}

const none = new Set<number>();

describe('SweepBook', () => {
  it('rung targets: ASHA milestones then the maximum; the median rule every epoch after the grace period; none goes straight to the end', () => {
    const asha = book({ scheduler: { kind: 'asha', minEpochs: 1, reductionFactor: 3 } }, 9);
    expect([0, 1, 2, 3, 5].map((e) => asha.nextTarget(e))).toEqual([1, 3, 3, 9, 9]);
    const median = book({ scheduler: { kind: 'median', gracePeriod: 2 } }, 5);
    expect([0, 1, 2, 3, 4].map((e) => median.nextTarget(e))).toEqual([2, 2, 3, 4, 5]);
    expect(book({ scheduler: 'none' }, 7).nextTarget(0)).toBe(7);
  });

  it('starts new trials up to the concurrency and the budget, promoted trials before new ones', () => {
    const b = book({ scheduler: { kind: 'asha', minEpochs: 1, reductionFactor: 2 }, trials: 3, concurrency: 2 });
    const first = b.launches(none);
    expect(first.map((l) => [l.trialNumber, l.targetEpoch])).toEqual([[0, 1], [1, 1]]);
    expect(b.launches(new Set([0, 1]))).toEqual([]);
    expect(b.recordRung(0, rung(1, [0.9]))).toBe('running');
    // Trial 0 goes on to epoch 2 with its plan, ahead of the new trial 2.
    const next = b.launches(new Set([1]));
    expect(next.map((l) => [l.trialNumber, l.targetEpoch, l.plan?.planUri])).toEqual([[0, 2, PLAN.planUri]]);
    expect(b.launches(new Set([0, 1])).length).toBe(0);
    expect(b.launches(new Set([1])).map((l) => l.trialNumber)).toEqual([0]);
    expect(b.recordRung(1, rung(1, [0.5]))).toBe('pruned');
    expect(b.launches(new Set([0])).map((l) => l.trialNumber)).toEqual([2]);
    expect(b.hasWork(new Set([0, 2]))).toBe(false);
  });

  it('ASHA prunes below the top 1/eta at a rung, and a trial at training.epochs is complete', () => {
    const b = book({ scheduler: { kind: 'asha', minEpochs: 1, reductionFactor: 2 }, trials: 2, concurrency: 2 }, 2);
    b.launches(none);
    expect(b.recordRung(0, rung(1, [0.8]))).toBe('running');
    expect(b.recordRung(1, rung(1, [0.7]))).toBe('pruned');
    expect(b.trials[1]!.detail).toContain('rung 1');
    expect(b.recordRung(0, rung(2, [0.8, 0.85], 1))).toBe('completed');
    expect(b.trials[0]).toMatchObject({ epochs: 2, metric: 0.85, bestMetric: 0.85, bestEpoch: 2, epochsTrained: 2, rungs: [[1, 0.8], [2, 0.85]], rungRequests: 2 });
    expect(b.leaderboard().map((r) => [r.rank, r.trial, r.status])).toEqual([[1, 0, 'completed'], [2, 1, 'pruned']]);
    expect(b.best()?.number).toBe(0);
    expect(trainResultOf(b.best()!)).toMatchObject({ modelUri: 'file:///m2', epochsCompleted: 2, checkpointUris: ['file:///c2'] });
  });

  it('a rung trained from scratch again shows in epochsTrained', () => {
    const b = book({ scheduler: { kind: 'asha', minEpochs: 1, reductionFactor: 2 }, trials: 1 }, 2);
    b.launches(none);
    b.recordRung(0, rung(1, [0.8]));
    b.recordRung(0, rung(2, [0.8, 0.9], 0));
    expect(b.trials[0]).toMatchObject({ epochs: 2, epochsTrained: 3 });
  });

  it('an epoch a lost attempt finished and checkpointed still counts in epochsTrained', () => {
    const b = book({ scheduler: { kind: 'asha', minEpochs: 1, reductionFactor: 2 }, trials: 1 }, 2);
    b.launches(none);
    // The attempt that trained epoch 1 died before reporting; its retry found the epoch-1 checkpoint.
    b.recordRung(0, rung(1, [0.8], 1, 2));
    b.recordRung(0, rung(2, [0.8, 0.9], 1));
    expect(b.trials[0]).toMatchObject({ epochs: 2, epochsTrained: 2, trainingAttempts: 3 });
  });

  it('ASHA in promote mode pauses trials at rungs and promotes the top 1/eta before starting new ones; the rest end pruned', () => {
    const b = book({ scheduler: { kind: 'asha', minEpochs: 1, reductionFactor: 2, mode: 'promote' }, trials: 4, concurrency: 1 }, 4);
    const next = () => b.launches(none).map((l) => [l.trialNumber, l.targetEpoch]);
    expect(next()).toEqual([[0, 1]]);
    expect(b.recordRung(0, rung(1, [0.5]))).toBe('paused');
    // One result at rung 1: floor(1/2) = 0 go on, so a new trial starts.
    expect(next()).toEqual([[1, 1]]);
    expect(b.recordRung(1, rung(1, [0.7]))).toBe('paused');
    expect(next()).toEqual([[1, 2]]);
    expect(b.recordRung(1, rung(2, [0.7, 0.8], 1))).toBe('paused');
    expect(next()).toEqual([[2, 1]]);
    b.recordRung(2, rung(1, [0.6]));
    expect(next()).toEqual([[3, 1]]);
    b.recordRung(3, rung(1, [0.9]));
    // Four results at rung 1: the top 2 are trials 3 and 1; trial 3 is waiting there.
    expect(next()).toEqual([[3, 2]]);
    b.recordRung(3, rung(2, [0.9, 0.95], 1));
    expect(b.counts()).toMatchObject({ paused: 4, running: 0 });
    expect(next()).toEqual([[3, 4]]);
    expect(b.recordRung(3, rung(4, [0.9, 0.95, 0.96, 0.97], 2))).toBe('completed');
    expect(next()).toEqual([]);
    expect(b.hasWork(none)).toBe(false);
    b.closeRunning();
    expect(b.trials.map((t) => t.status)).toEqual(['pruned', 'pruned', 'pruned', 'completed']);
    expect(b.trials[1]!.detail).toBe('not promoted from rung 2: 2nd of 2 there, where the top 1 go on (1/2)');
    expect(b.trials.map((t) => t.epochsTrained)).toEqual([1, 2, 1, 4]);
    // The state survives a continue-as-new with trials paused.
    expect(SweepBook.restore(b.toJSON()).leaderboard()).toEqual(b.leaderboard());
  });

  it('ASHA in promote mode: once no trial can start, the best paused trial of a rung with none promoted goes on', () => {
    const b = book({ scheduler: { kind: 'asha', minEpochs: 1, reductionFactor: 3, mode: 'promote' }, trials: 2, concurrency: 2 }, 3);
    expect(b.launches(none).map((l) => [l.trialNumber, l.targetEpoch])).toEqual([[0, 1], [1, 1]]);
    b.recordRung(0, rung(1, [0.5]));
    // Trial 1 still trains: its result may change the ranking, so nothing is promoted yet.
    expect(b.launches(new Set([1]))).toEqual([]);
    expect(b.hasWork(new Set([1]))).toBe(false);
    b.recordRung(1, rung(1, [0.6]));
    expect(b.launches(none).map((l) => [l.trialNumber, l.targetEpoch])).toEqual([[1, 3]]);
    expect(b.recordRung(1, rung(3, [0.6, 0.7, 0.8], 1))).toBe('completed');
    expect(b.hasWork(none)).toBe(false);
    b.closeRunning();
    expect(b.trials.map((t) => t.status)).toEqual(['pruned', 'completed']);
  });

  it('finished trials other than the best drop their plan and history from the state; the best keeps them for phase 5', () => {
    const b = book({ scheduler: 'none', trials: 4, concurrency: 4 }, 2);
    b.launches(none);
    b.recordRung(0, rung(2, [0.5, 0.6]));
    b.recordRung(1, rung(2, [0.7, 0.8]));
    b.recordRung(2, rung(2, [0.6, 0.7]));
    expect(b.trials.map((t) => [t.history.length, t.plan !== undefined])).toEqual([[0, false], [2, true], [0, false], [0, false]]);
    b.recordRung(3, rung(2, [0.8, 0.9]));
    expect(b.trials.map((t) => t.history.length)).toEqual([0, 0, 0, 2]);
    expect(b.best()?.number).toBe(3);
    expect(trainResultOf(b.best()!).history.map((h) => h.epoch)).toEqual([1, 2]);
    expect(b.best()?.plan).toEqual(PLAN);
    expect(b.leaderboard().map((r) => r.historyUri)).toEqual(['file:///h', 'file:///h', 'file:///h', 'file:///h']);
  });

  it('a rung cancelled by stopNow ends its trial stopped with its last finished rung', () => {
    const b = book({ scheduler: { kind: 'asha', minEpochs: 1, reductionFactor: 2 }, trials: 1 }, 4);
    b.launches(none);
    b.recordRung(0, rung(1, [0.8]));
    b.stop('enough');
    b.recordCancelled(0);
    expect(b.trials[0]).toMatchObject({ status: 'stopped', epochs: 1, metric: 0.8, rungRequests: 2, detail: 'rung cancelled: enough' });
    expect(b.hasWork(none)).toBe(false);
  });

  it('enqueue runs the configuration next and adds it to the budget; a configuration outside the space is refused by name', () => {
    const b = book({ scheduler: 'none', trials: 2, concurrency: 1 });
    b.launches(none);
    b.enqueue({ 'training.learningRate': 0.01, 'training.optimizer': 'sgd' });
    expect(b.budget).toBe(3);
    expect(() => b.enqueue({ 'training.learningRate': 2, 'training.optimizer': 'sgd' })).toThrow('enqueue.training.learningRate is 2, outside [0.0001, 0.1]');
    expect(() => b.enqueue({ 'training.lr': 0.01 })).toThrow('enqueue.training.lr is not a parameter of the search space');
    b.recordRung(0, rung(4, [0.1, 0.2, 0.3, 0.4]));
    const [launch] = b.launches(none);
    expect(launch).toMatchObject({ trialNumber: 1, config: { 'training.learningRate': 0.01, 'training.optimizer': 'sgd' } });
    expect(b.trials[1]!.source).toBe('enqueued');
  });

  it('extendBudget and setConcurrency check their argument', () => {
    const b = book({ trials: 2 });
    b.extendBudget(3);
    expect(b.budget).toBe(5);
    expect(() => b.extendBudget(0)).toThrow('extendBudget: n must be an integer >= 1, got 0');
    expect(() => b.setConcurrency(1.5)).toThrow('setConcurrency: n must be an integer from 1 to 1000, got 1.5');
    b.setConcurrency(4);
    expect(b.launches(none)).toHaveLength(4);
  });

  it('stop: no new trials or rungs; trials that would have gone on end as stopped', () => {
    const b = book({ scheduler: { kind: 'asha', minEpochs: 1, reductionFactor: 2 }, trials: 5, concurrency: 1 });
    b.launches(none);
    b.stop('enough');
    expect(b.recordRung(0, rung(1, [0.5]))).toBe('running');
    expect(b.launches(none)).toEqual([]);
    expect(b.hasWork(none)).toBe(false);
    expect(() => b.extendBudget(1)).toThrow('the sweep is stopping (enough)');
    b.closeRunning();
    expect(b.trials[0]).toMatchObject({ status: 'stopped', detail: 'enough', metric: 0.5 });
    expect(b.counts()).toEqual({ running: 0, paused: 0, completed: 0, pruned: 0, failed: 0, stopped: 1, total: 1 });
  });

  it('a target metric stops the sweep when a trial reaches it', () => {
    const b = book({ scheduler: 'none', trials: 5, concurrency: 1, targetMetric: 0.9 });
    b.launches(none);
    b.recordRung(0, rung(4, [0.5, 0.7, 0.9, 0.95]));
    expect(b.stopReason).toBe('trial 0 reached val_accuracy 0.95 (target >= 0.9)');
    expect(b.launches(none)).toEqual([]);
  });

  it('a failed rung fails its trial; a loss metric ranks lowest first', () => {
    const b = book({ scheduler: 'none', trials: 3, concurrency: 3, metric: 'val_loss' });
    b.launches(none);
    b.recordFailure(0, 'training diverged');
    b.recordRung(1, rung(4, [0.1, 0.2, 0.3, 0.6])); // val loss 0.4
    b.recordRung(2, rung(4, [0.1, 0.2, 0.3, 0.9])); // val loss 0.1
    expect(b.leaderboard().map((r) => [r.trial, r.status])).toEqual([[2, 'completed'], [1, 'completed'], [0, 'failed']]);
    expect(b.trials[0]!.detail).toBe('training diverged');
  });

  it('its JSON state restores a book that continues exactly where the first one was', () => {
    const a = book({ sampler: 'tpe', scheduler: { kind: 'asha', minEpochs: 1, reductionFactor: 2 }, trials: 6, concurrency: 2 });
    a.launches(none);
    a.recordRung(0, rung(1, [0.6]));
    a.recordRung(1, rung(1, [0.4]));
    a.enqueue({ 'training.learningRate': 0.02, 'training.optimizer': 'adam' });
    const b = SweepBook.restore(JSON.parse(JSON.stringify(a.toJSON())) as ReturnType<SweepBook['toJSON']>);
    expect(b.launches(none)).toEqual(a.launches(none));
    expect(b.toJSON()).toEqual(a.toJSON());
    expect(() => SweepBook.restore({ ...a.toJSON(), version: 3 as never })).toThrow('sweep state version 3 is not supported (expected 1 or 2)');
  });

  it('restores a version-1 state (every trial in the table) and goes on numbering and counting from it', () => {
    const a = book({ scheduler: 'none', trials: 5, concurrency: 2 });
    a.launches(none);
    a.recordRung(0, rung(4, [0.1, 0.2, 0.3, 0.6]));
    const { trialCount: _c, keep: _k, archive: _a, unwritten: _u, archiveParts: _p, ...rest } = a.toJSON();
    const b = SweepBook.restore({ ...rest, version: 1 });
    expect(b.counts()).toMatchObject({ total: 2, completed: 1, running: 1 });
    expect(b.launches(new Set([1])).map((l) => l.trialNumber)).toEqual([2]);
    expect(b.toJSON()).toMatchObject({ version: 2, trialCount: 3, keep: 100, archive: [], unwritten: [], archiveParts: 0 });
  });
});

/** Runs a whole sweep on a book, each rung's accuracies drawn from the trial number; returns the launches in order. */
function drive(b: SweepBook, accuracy: (trial: number, epoch: number) => number, flushEvery = Infinity): string[] {
  const launched: string[] = [];
  const training = new Set<number>();
  const targets = new Map<number, number>();
  for (let guard = 0; guard < 100_000; guard++) {
    for (const l of b.launches(training)) {
      training.add(l.trialNumber);
      targets.set(l.trialNumber, l.targetEpoch);
      launched.push(`${l.trialNumber}@${l.targetEpoch}`);
    }
    if (b.unwritten.length >= flushEvery) b.markWritten(b.unwritten.length);
    const next = Math.min(...training);
    if (!Number.isFinite(next)) {
      if (!b.hasWork(training)) break;
      continue;
    }
    training.delete(next);
    const epochs = targets.get(next)!;
    b.recordRung(next, rung(epochs, Array.from({ length: epochs }, (_, e) => accuracy(next, e + 1))));
  }
  b.closeRunning();
  return launched;
}

/** Deterministic, varied accuracies: some trials poor, some good, improving with epochs. */
const landscape = (trial: number, epoch: number) => ((trial * 7919) % 1000) / 1250 + 0.02 * epoch;

describe('SweepBook archive', () => {
  it('keeps the top `keep` finished trials whole, archives the rest, and still ranks, counts and schedules as if it kept them all', () => {
    for (const scheduler of ['none', { kind: 'asha', minEpochs: 1, reductionFactor: 3, mode: 'promote' }, { kind: 'asha', minEpochs: 1, reductionFactor: 3, mode: 'stop' }, { kind: 'median', gracePeriod: 1 }]) {
      const all = SweepBook.create(sweepOf({ scheduler }), 9, { keep: 1000 });
      const kept = SweepBook.create(sweepOf({ scheduler }), 9, { keep: 5 });
      expect(drive(kept, landscape, 7)).toEqual(drive(all, landscape));
      expect(kept.counts()).toEqual(all.counts());
      expect(kept.leaderboard(5)).toEqual(all.leaderboard(5));
      expect(kept.best()).toEqual(all.best());
      // Only the head and the rows not yet written stay in the state.
      expect(kept.trials.length).toBeLessThanOrEqual(5);
      const written = (kept.archiveParts > 0 ? 1 : 0) + kept.unwritten.length;
      expect(written).toBeGreaterThan(0);
    }
  });

  it('the rows it archives, with the head, are every trial once, as the full leaderboard has them', () => {
    const all = SweepBook.create(sweepOf({ scheduler: 'none' }), 3, { keep: 1000 });
    const kept = SweepBook.create(sweepOf({ scheduler: 'none' }), 3, { keep: 4 });
    drive(all, landscape);
    drive(kept, landscape);
    const rows = [...kept.leaderboard(), ...kept.unwritten];
    expect(rankRows(rows, 'val_accuracy')).toEqual(all.leaderboard());
    expect(kept.unwritten.every((r) => r.rank === 0)).toBe(true);
    expect(() => kept.markWritten(kept.unwritten.length + 1)).toThrow(`markWritten: count must be 1-${kept.unwritten.length}`);
    kept.markWritten(kept.unwritten.length);
    expect(kept.toJSON()).toMatchObject({ unwritten: [], archiveParts: 1 });
  });

  it('a 10,000-trial sweep keeps its state under 1 MB (Temporal refuses payloads over 2 MB)', () => {
    const b = SweepBook.create(sweepOf({ scheduler: 'none', trials: 10_000, concurrency: 8 }), 1);
    drive(b, landscape, 250);
    expect(b.counts().total).toBe(10_000);
    const bytes = JSON.stringify(b.toJSON()).length;
    expect(bytes).toBeLessThan(1_000_000);
    expect(b.leaderboard(100)).toHaveLength(100);
  });
});

function sweepOf(sweep: Record<string, unknown>) {
  return parsePipelineConfig({
    training: { epochs: 9 },
    sweep: { space: { 'training.learningRate': { type: 'log-uniform', low: 1e-4, high: 1e-1 } }, sampler: 'random', seed: 5, trials: 60, concurrency: 3, ...sweep },
  }).sweep!;
}
