import { describe, expect, it } from 'vitest';
import { MedianStoppingScheduler, restoreScheduler, type TrialScheduler } from '../../../../src/core/search/index.js';

/** [trial, step, value] in arrival order. */
type Report = [number, number, number];

const REPORTS: Report[] = [
  [0, 1, 0.5], [0, 2, 0.6], [0, 3, 0.7], [0, 4, 0.8],
  [1, 1, 0.4], [1, 2, 0.5], [1, 3, 0.6], [1, 4, 0.7],
  [2, 1, 0.3], // inside the grace period
  [2, 2, 0.35], // median of running means (0.55, 0.45) = 0.5: stop
  [3, 1, 0.2],
  [3, 2, 0.52], // best 0.52 >= 0.5: continue
  [3, 3, 0.53], // trial 2 never reached step 3; median of (0.6, 0.5) = 0.55: stop
];

function run(scheduler: TrialScheduler, reports: Report[], sign = 1): string[] {
  return reports.map(([trialNumber, step, value]) => {
    const d = scheduler.report({ trialNumber, step, value: sign * value });
    return d.action === 'continue' ? 'c' : d.reason;
  });
}

describe('MedianStoppingScheduler', () => {
  it("stops a trial whose best so far is below the median of others' running averages", () => {
    const rule = new MedianStoppingScheduler({ mode: 'max', gracePeriod: 2, minTrials: 2 });
    expect(run(rule, REPORTS)).toEqual(['c', 'c', 'c', 'c', 'c', 'c', 'c', 'c', 'c', 'pruned', 'c', 'c', 'pruned']);
  });

  it("makes the same decisions in 'min' mode on negated results", () => {
    const rule = new MedianStoppingScheduler({ mode: 'min', gracePeriod: 2, minTrials: 2 });
    expect(run(rule, REPORTS, -1)).toEqual(['c', 'c', 'c', 'c', 'c', 'c', 'c', 'c', 'c', 'pruned', 'c', 'c', 'pruned']);
  });

  it('waits until enough other trials have reached the step', () => {
    const rule = new MedianStoppingScheduler({ mode: 'max', gracePeriod: 2, minTrials: 3 });
    // Trial 2 at step 2 sees only trials 0 and 1; trial 3 at step 2 sees 0, 1 and 2.
    expect(run(rule, REPORTS).slice(8)).toEqual(['c', 'c', 'c', 'c', 'c']);
    expect(run(rule, [[4, 2, 0.1]])).toEqual(['pruned']);
  });

  it('explains a stop with the numbers behind it', () => {
    const rule = new MedianStoppingScheduler({ mode: 'max', minTrials: 1 });
    rule.report({ trialNumber: 0, step: 1, value: 0.5 });
    expect(rule.report({ trialNumber: 1, step: 1, value: 0.25 })).toEqual({
      action: 'stop',
      reason: 'pruned',
      detail: "trial 1's best 0.25 by step 1 is worse than the median 0.5 of 1 other trials' running averages",
    });
  });

  it('lets a trial resumed from a checkpoint repeat steps without judging or recording them again', () => {
    const rule = new MedianStoppingScheduler({ mode: 'max', minTrials: 1 });
    run(rule, [[0, 1, 0.5], [0, 2, 0.5], [1, 1, 0.9], [1, 2, 0.9]]);
    expect(run(rule, [[1, 2, 0.0]])).toEqual(['c']);
    expect(rule.toJSON().trials[1]).toEqual({ trialNumber: 1, steps: [1, 2], values: [0.9, 0.9] });
  });

  it('decides the same after a JSON round trip mid-run', () => {
    const whole = new MedianStoppingScheduler({ mode: 'max', gracePeriod: 2, minTrials: 2 });
    const first = new MedianStoppingScheduler({ mode: 'max', gracePeriod: 2, minTrials: 2 });
    const expected = run(whole, REPORTS);
    run(first, REPORTS.slice(0, 9));
    const restored = restoreScheduler(JSON.parse(JSON.stringify(first.toJSON())));
    expect(restored).toBeInstanceOf(MedianStoppingScheduler);
    expect(run(restored, REPORTS.slice(9))).toEqual(expected.slice(9));
  });

  it('rejects bad settings naming the value', () => {
    expect(() => new MedianStoppingScheduler({ mode: 'max', minTrials: 0 })).toThrow(/minTrials must be an integer >= 1, got 0/);
    expect(() => new MedianStoppingScheduler({ mode: 'max', gracePeriod: -1 })).toThrow(/gracePeriod must be >= 0, got -1/);
    expect(() => restoreScheduler({ kind: 'hyperband' })).toThrow(/scheduler state\.kind must be one of asha, median, got "hyperband"/);
  });
});
