/**
 * The median stopping rule (Golovin et al. 2017, Google Vizier; Ray Tune's MedianStoppingRule):
 * stop a trial whose best result so far at step t is worse than the median, over the other trials
 * that have reached t, of their running averages up to t.
 */
import { expectArray, expectKind, expectNumber, expectOneOf, expectRecord } from './json-state.js';
import type { SearchMode } from './sampler.js';
import { CONTINUE, checkReport, divergedDecision, percentile, type SchedulerDecision, type TrialReport, type TrialScheduler } from './trial-scheduler.js';

export interface MedianStoppingSchedulerOptions {
  /** 'max' when a larger result is better. */
  mode: SearchMode;
  /** No trial is stopped at a step below this. Defaults to 0. */
  gracePeriod?: number;
  /** Other trials that must have reached the step before the rule applies. Defaults to 3. */
  minTrials?: number;
}

export interface MedianTrialHistory {
  trialNumber: number;
  /** Increasing. */
  steps: number[];
  values: number[];
}

export interface MedianStoppingSchedulerState {
  kind: 'median';
  version: 1;
  mode: SearchMode;
  gracePeriod: number;
  minTrials: number;
  /** Ordered by trial number. Grows with every report: about 20 bytes per report in history. */
  trials: MedianTrialHistory[];
}

export class MedianStoppingScheduler implements TrialScheduler {
  readonly mode: SearchMode;
  readonly gracePeriod: number;
  readonly minTrials: number;
  private readonly trials = new Map<number, MedianTrialHistory>();

  constructor(options: MedianStoppingSchedulerOptions) {
    const gracePeriod = options.gracePeriod ?? 0;
    const minTrials = options.minTrials ?? 3;
    if (options.mode !== 'max' && options.mode !== 'min') throw new RangeError(`median mode must be 'max' or 'min', got ${JSON.stringify(options.mode)}`);
    if (!(Number.isFinite(gracePeriod) && gracePeriod >= 0)) throw new RangeError(`median gracePeriod must be >= 0, got ${gracePeriod}`);
    if (!(Number.isInteger(minTrials) && minTrials >= 1)) throw new RangeError(`median minTrials must be an integer >= 1, got ${minTrials}`);
    this.mode = options.mode;
    this.gracePeriod = gracePeriod;
    this.minTrials = minTrials;
  }

  report(report: TrialReport): SchedulerDecision {
    checkReport(report);
    const diverged = divergedDecision(report);
    if (diverged !== undefined) return diverged;
    let own = this.trials.get(report.trialNumber);
    if (own === undefined) {
      own = { trialNumber: report.trialNumber, steps: [], values: [] };
      this.trials.set(report.trialNumber, own);
    }
    const last = own.steps[own.steps.length - 1];
    // A trial resumed from a checkpoint repeats steps it already reported and was let through at.
    if (last !== undefined && report.step <= last) return CONTINUE;
    own.steps.push(report.step);
    own.values.push(report.value);
    if (report.step < this.gracePeriod) return CONTINUE;

    const averages: number[] = [];
    for (const other of this.trials.values()) {
      if (other === own) continue;
      const mean = runningMean(other, report.step);
      if (mean !== undefined) averages.push(mean);
    }
    if (averages.length < this.minTrials) return CONTINUE;
    const median = percentile(averages, 50);
    const best = this.mode === 'max' ? Math.max(...own.values) : Math.min(...own.values);
    if (this.mode === 'max' ? best < median : best > median) {
      return {
        action: 'stop',
        reason: 'pruned',
        detail: `trial ${report.trialNumber}'s best ${best} by step ${report.step} is worse than the median ${median} of ${averages.length} other trials' running averages`,
      };
    }
    return CONTINUE;
  }

  toJSON(): MedianStoppingSchedulerState {
    const trials = [...this.trials.values()]
      .sort((a, b) => a.trialNumber - b.trialNumber)
      .map((t) => ({ trialNumber: t.trialNumber, steps: [...t.steps], values: [...t.values] }));
    return { kind: 'median', version: 1, mode: this.mode, gracePeriod: this.gracePeriod, minTrials: this.minTrials, trials };
  }

  static fromJSON(state: unknown): MedianStoppingScheduler {
    const at = 'median scheduler state';
    const s = expectRecord(state, at);
    expectKind(s, 'median', 1, at);
    const scheduler = new MedianStoppingScheduler({
      mode: expectOneOf(s['mode'], ['max', 'min'] as const, `${at}.mode`),
      gracePeriod: expectNumber(s['gracePeriod'], `${at}.gracePeriod`),
      minTrials: expectNumber(s['minTrials'], `${at}.minTrials`),
    });
    expectArray(s['trials'], `${at}.trials`).forEach((raw, i) => {
      const t = expectRecord(raw, `${at}.trials[${i}]`);
      const steps = expectArray(t['steps'], `${at}.trials[${i}].steps`).map((v, j) => expectNumber(v, `${at}.trials[${i}].steps[${j}]`));
      const values = expectArray(t['values'], `${at}.trials[${i}].values`).map((v, j) => expectNumber(v, `${at}.trials[${i}].values[${j}]`));
      if (steps.length !== values.length) throw new RangeError(`${at}.trials[${i}] has ${steps.length} steps but ${values.length} values`);
      const trialNumber = expectNumber(t['trialNumber'], `${at}.trials[${i}].trialNumber`);
      scheduler.trials.set(trialNumber, { trialNumber, steps, values });
    });
    return scheduler;
  }
}

/** Mean of the trial's results up to `step`, if it has reached `step` and reported at or before it. */
function runningMean(trial: MedianTrialHistory, step: number): number | undefined {
  const last = trial.steps[trial.steps.length - 1];
  if (last === undefined || last < step) return undefined;
  let sum = 0;
  let count = 0;
  trial.steps.forEach((s, i) => {
    if (s <= step) {
      sum += trial.values[i] as number;
      count++;
    }
  });
  return count === 0 ? undefined : sum / count;
}
