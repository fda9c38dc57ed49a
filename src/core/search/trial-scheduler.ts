/**
 * The ask/tell contract of early stopping: a running trial reports an intermediate result and
 * the scheduler answers continue or stop. State is plain JSON for workflow history.
 */
import type { AshaSchedulerState } from './asha-scheduler.js';
import type { MedianStoppingSchedulerState } from './median-stopping-scheduler.js';

export interface TrialReport {
  trialNumber: number;
  /** Resource used so far, e.g. epochs completed; increases with each report of a trial. */
  step: number;
  /** The objective at this step. NaN or infinite (a diverged run) stops the trial. */
  value: number;
}

export type SchedulerDecision =
  | { action: 'continue' }
  | {
      action: 'stop';
      /** 'pruned': stopped early for poor results. 'max-resource': the trial has had all it gets. */
      reason: 'pruned' | 'max-resource';
      /** One line for logs and the leaderboard, with the numbers behind the decision. */
      detail: string;
    };

export type SchedulerState = AshaSchedulerState | MedianStoppingSchedulerState;

export interface TrialScheduler {
  report(report: TrialReport): SchedulerDecision;
  toJSON(): SchedulerState;
}

export const CONTINUE: SchedulerDecision = Object.freeze({ action: 'continue' });

export function checkReport(report: TrialReport): void {
  if (!Number.isSafeInteger(report.trialNumber) || report.trialNumber < 0) {
    throw new RangeError(`report.trialNumber must be an integer >= 0, got ${String(report.trialNumber)}`);
  }
  if (!Number.isFinite(report.step) || report.step < 0) throw new RangeError(`report.step must be a finite number >= 0, got ${String(report.step)}`);
  if (typeof report.value !== 'number') throw new TypeError(`report.value must be a number, got ${JSON.stringify(report.value)}`);
}

/** The decision for a NaN or infinite result: such a trial has diverged and will not recover. */
export function divergedDecision(report: TrialReport): SchedulerDecision | undefined {
  if (Number.isFinite(report.value)) return undefined;
  return { action: 'stop', reason: 'pruned', detail: `trial ${report.trialNumber} reported ${report.value} at step ${report.step}` };
}

/** numpy's default (linear interpolation) percentile, q in [0, 100], of a non-empty list. */
export function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const pos = ((sorted.length - 1) * q) / 100;
  const lower = Math.floor(pos);
  const upper = Math.min(sorted.length - 1, lower + 1);
  const a = sorted[lower] as number;
  return a + ((sorted[upper] as number) - a) * (pos - lower);
}
