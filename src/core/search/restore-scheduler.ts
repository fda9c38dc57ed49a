/** Rebuilds whichever scheduler a serialised state came from (e.g. after continue-as-new). */
import { AshaScheduler } from './asha-scheduler.js';
import { expectOneOf, expectRecord } from './json-state.js';
import { MedianStoppingScheduler } from './median-stopping-scheduler.js';
import type { TrialScheduler } from './trial-scheduler.js';

export function restoreScheduler(state: unknown): TrialScheduler {
  const kind = expectOneOf(expectRecord(state, 'scheduler state')['kind'], ['asha', 'median'] as const, 'scheduler state.kind');
  return kind === 'asha' ? AshaScheduler.fromJSON(state) : MedianStoppingScheduler.fromJSON(state);
}
