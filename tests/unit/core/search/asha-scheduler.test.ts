import { describe, expect, it } from 'vitest';
import { AshaScheduler, restoreScheduler, type TrialReport } from '../../../../src/core/search/index.js';

/** [trial, step, value, expected action or stop reason] */
type Step = [number, number, number, 'continue' | 'pruned' | 'max-resource'];

// Rungs at steps 1 and 3 (min 1, eta 3, max 9). Cutoffs are the 66.7th percentile (numpy's
// linear rule) of the results already at the rung, computed before the newcomer is added.
const SEQUENCE: Step[] = [
  [0, 1, 0.5, 'continue'], // first at rung 1: nothing to compare with
  [1, 1, 0.7, 'continue'], // cutoff 0.5
  [2, 1, 0.4, 'pruned'], // cutoff over [0.5, 0.7] = 0.6333
  [3, 1, 0.9, 'continue'], // cutoff over [0.4, 0.5, 0.7] = 0.5667
  [0, 2, 0.6, 'continue'], // between rungs
  [0, 3, 0.65, 'continue'], // first at rung 3
  [1, 3, 0.6, 'pruned'], // cutoff 0.65
  [3, 3, 0.95, 'continue'], // cutoff over [0.65, 0.6] = 0.6333
  [4, 4, 0.7, 'pruned'], // skipped rung 1; judged at rung 3: cutoff over [0.65, 0.6, 0.95] = 0.75
  [3, 9, 0.97, 'max-resource'],
];

function decide(scheduler: AshaScheduler, [trialNumber, step, value]: Step): string {
  const d = scheduler.report({ trialNumber, step, value });
  return d.action === 'continue' ? 'continue' : d.reason;
}

describe('AshaScheduler', () => {
  it('keeps the top 1/eta at each rung, judging each trial on arrival', () => {
    const asha = new AshaScheduler({ mode: 'max', minResource: 1, maxResource: 9, reductionFactor: 3 });
    expect(SEQUENCE.map((s) => decide(asha, s))).toEqual(SEQUENCE.map((s) => s[3]));
    expect(asha.rungs()).toEqual([
      { milestone: 1, results: [[0, 0.5], [1, 0.7], [2, 0.4], [3, 0.9]] },
      { milestone: 3, results: [[0, 0.65], [1, 0.6], [3, 0.95], [4, 0.7]] },
    ]);
  });

  it("makes the same decisions in 'min' mode on negated results", () => {
    const asha = new AshaScheduler({ mode: 'min', minResource: 1, maxResource: 9, reductionFactor: 3 });
    expect(SEQUENCE.map(([t, s, v, e]) => decide(asha, [t, s, -v, e]))).toEqual(SEQUENCE.map((s) => s[3]));
  });

  it('explains a stop with the numbers behind it', () => {
    const asha = new AshaScheduler({ mode: 'max', maxResource: 9 });
    asha.report({ trialNumber: 0, step: 1, value: 0.8 });
    expect(asha.report({ trialNumber: 1, step: 1, value: 0.2 })).toEqual({
      action: 'stop',
      reason: 'pruned',
      detail: 'trial 1 has 0.2 at rung 1 (step 1); the top 1/3 of 1 earlier trials there need >= 0.8',
    });
  });

  it('places rungs at minResource * eta^k below maxResource', () => {
    const milestones = (min: number, max: number, eta: number): number[] =>
      new AshaScheduler({ mode: 'max', minResource: min, maxResource: max, reductionFactor: eta }).rungs().map((r) => r.milestone);
    expect(milestones(1, 27, 3)).toEqual([1, 3, 9]);
    expect(milestones(1, 81, 3)).toEqual([1, 3, 9, 27]);
    expect(milestones(2, 16, 2)).toEqual([2, 4, 8]);
    expect(milestones(5, 5, 3)).toEqual([]);
  });

  it('stops a diverged trial at once', () => {
    const asha = new AshaScheduler({ mode: 'min', maxResource: 9 });
    expect(asha.report({ trialNumber: 0, step: 1, value: Number.NaN })).toMatchObject({ action: 'stop', reason: 'pruned', detail: 'trial 0 reported NaN at step 1' });
  });

  it('lets a resumed trial repeat a step it already passed', () => {
    const asha = new AshaScheduler({ mode: 'max', maxResource: 9 });
    asha.report({ trialNumber: 0, step: 1, value: 0.9 });
    asha.report({ trialNumber: 1, step: 1, value: 0.95 });
    expect(asha.report({ trialNumber: 0, step: 1, value: 0.1 })).toEqual({ action: 'continue' });
    expect(asha.rungs()[0]?.results).toEqual([[0, 0.9], [1, 0.95]]);
  });

  it('decides the same after a JSON round trip mid-run', () => {
    const whole = new AshaScheduler({ mode: 'max', minResource: 1, maxResource: 9 });
    const first = new AshaScheduler({ mode: 'max', minResource: 1, maxResource: 9 });
    const wholeDecisions = SEQUENCE.map((s) => decide(whole, s));
    SEQUENCE.slice(0, 5).forEach((s) => decide(first, s));
    const restored = restoreScheduler(JSON.parse(JSON.stringify(first.toJSON())));
    const rest = SEQUENCE.slice(5).map(([trialNumber, step, value]) => {
      const d = restored.report({ trialNumber, step, value } satisfies TrialReport);
      return d.action === 'continue' ? 'continue' : d.reason;
    });
    expect(rest).toEqual(wholeDecisions.slice(5));
    expect(restored.toJSON()).toEqual(whole.toJSON());
  });

  it('rejects bad settings and reports naming the value', () => {
    expect(() => new AshaScheduler({ mode: 'max', maxResource: 9, reductionFactor: 1 })).toThrow(/reductionFactor must be > 1, got 1/);
    expect(() => new AshaScheduler({ mode: 'max', minResource: 10, maxResource: 9 })).toThrow(/maxResource must be >= minResource \(10\), got 9/);
    const asha = new AshaScheduler({ mode: 'max', maxResource: 9 });
    expect(() => asha.report({ trialNumber: -1, step: 1, value: 1 })).toThrow(/trialNumber must be an integer >= 0, got -1/);
    const state = { ...asha.toJSON(), rungs: [] };
    expect(() => AshaScheduler.fromJSON(state)).toThrow(/rungs has 0 rungs but these settings make 2/);
  });
});
