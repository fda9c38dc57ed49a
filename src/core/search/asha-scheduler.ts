/**
 * Asynchronous successive halving (Li et al. 2018, ASHA), deciding as Ray Tune's
 * AsyncHyperBandScheduler with one bracket does: rungs at minResource * eta^k; when a trial first
 * reaches a rung it goes on only if its result is within the top 1/eta of the results already
 * recorded there. No trial ever waits for others, so workers stay busy.
 */
import { expectArray, expectKind, expectNumber, expectOneOf, expectRecord } from './json-state.js';
import type { SearchMode } from './sampler.js';
import { CONTINUE, checkReport, divergedDecision, percentile, type SchedulerDecision, type TrialReport, type TrialScheduler } from './trial-scheduler.js';

export interface AshaSchedulerOptions {
  /** 'max' when a larger result is better. */
  mode: SearchMode;
  /** Resource (e.g. epochs) every trial gets before it can be stopped: the first rung. Defaults to 1. */
  minResource?: number;
  /** Resource at which a trial is complete and stops. */
  maxResource: number;
  /** eta: a trial reaching a rung goes on only if in the top 1/eta there. Defaults to 3. */
  reductionFactor?: number;
}

export interface AshaRung {
  milestone: number;
  /** [trialNumber, value] in arrival order. */
  results: [number, number][];
}

export interface AshaSchedulerState {
  kind: 'asha';
  version: 1;
  mode: SearchMode;
  minResource: number;
  maxResource: number;
  reductionFactor: number;
  rungs: AshaRung[];
}

export class AshaScheduler implements TrialScheduler {
  readonly mode: SearchMode;
  readonly minResource: number;
  readonly maxResource: number;
  readonly reductionFactor: number;
  private readonly rungList: AshaRung[];

  constructor(options: AshaSchedulerOptions) {
    const minResource = options.minResource ?? 1;
    const eta = options.reductionFactor ?? 3;
    if (options.mode !== 'max' && options.mode !== 'min') throw new RangeError(`asha mode must be 'max' or 'min', got ${JSON.stringify(options.mode)}`);
    if (!(Number.isFinite(minResource) && minResource > 0)) throw new RangeError(`asha minResource must be > 0, got ${minResource}`);
    if (!(Number.isFinite(options.maxResource) && options.maxResource >= minResource)) {
      throw new RangeError(`asha maxResource must be >= minResource (${minResource}), got ${options.maxResource}`);
    }
    if (!(Number.isFinite(eta) && eta > 1)) throw new RangeError(`asha reductionFactor must be > 1, got ${eta}`);
    this.mode = options.mode;
    this.minResource = minResource;
    this.maxResource = options.maxResource;
    this.reductionFactor = eta;
    this.rungList = [];
    for (let milestone = minResource; milestone < options.maxResource; milestone *= eta) this.rungList.push({ milestone, results: [] });
  }

  report(report: TrialReport): SchedulerDecision {
    checkReport(report);
    const diverged = divergedDecision(report);
    if (diverged !== undefined) return diverged;
    const score = (v: number): number => (this.mode === 'max' ? v : -v);
    // Highest rung first: a trial that skipped past several rungs is judged where it stands now.
    for (let r = this.rungList.length - 1; r >= 0; r--) {
      const rung = this.rungList[r] as AshaRung;
      if (report.step < rung.milestone || rung.results.some(([t]) => t === report.trialNumber)) continue;
      const others = rung.results.map(([, v]) => score(v));
      rung.results.push([report.trialNumber, report.value]);
      if (others.length > 0) {
        const cutoff = percentile(others, (1 - 1 / this.reductionFactor) * 100);
        if (score(report.value) < cutoff) {
          return {
            action: 'stop',
            reason: 'pruned',
            detail:
              `trial ${report.trialNumber} has ${report.value} at rung ${rung.milestone} (step ${report.step}); ` +
              `the top 1/${this.reductionFactor} of ${others.length} earlier trials there need ${this.mode === 'max' ? '>=' : '<='} ${score(cutoff)}`,
          };
        }
      }
      break;
    }
    if (report.step >= this.maxResource) {
      return { action: 'stop', reason: 'max-resource', detail: `trial ${report.trialNumber} reached maxResource ${this.maxResource} at step ${report.step}` };
    }
    return CONTINUE;
  }

  /** Rungs with the results recorded at each, for status views. */
  rungs(): readonly AshaRung[] {
    return this.rungList.map((r) => ({ milestone: r.milestone, results: r.results.map(([t, v]) => [t, v] as [number, number]) }));
  }

  toJSON(): AshaSchedulerState {
    return {
      kind: 'asha',
      version: 1,
      mode: this.mode,
      minResource: this.minResource,
      maxResource: this.maxResource,
      reductionFactor: this.reductionFactor,
      rungs: [...this.rungs()],
    };
  }

  static fromJSON(state: unknown): AshaScheduler {
    const at = 'asha scheduler state';
    const s = expectRecord(state, at);
    expectKind(s, 'asha', 1, at);
    const scheduler = new AshaScheduler({
      mode: expectOneOf(s['mode'], ['max', 'min'] as const, `${at}.mode`),
      minResource: expectNumber(s['minResource'], `${at}.minResource`),
      maxResource: expectNumber(s['maxResource'], `${at}.maxResource`),
      reductionFactor: expectNumber(s['reductionFactor'], `${at}.reductionFactor`),
    });
    const rungs = expectArray(s['rungs'], `${at}.rungs`);
    if (rungs.length !== scheduler.rungList.length) {
      throw new RangeError(`${at}.rungs has ${rungs.length} rungs but these settings make ${scheduler.rungList.length}`);
    }
    rungs.forEach((raw, r) => {
      const rung = expectRecord(raw, `${at}.rungs[${r}]`);
      const target = scheduler.rungList[r] as AshaRung;
      if (rung['milestone'] !== target.milestone) {
        throw new RangeError(`${at}.rungs[${r}].milestone is ${JSON.stringify(rung['milestone'])}, expected ${target.milestone}`);
      }
      expectArray(rung['results'], `${at}.rungs[${r}].results`).forEach((pair, i) => {
        const p = expectArray(pair, `${at}.rungs[${r}].results[${i}]`);
        target.results.push([expectNumber(p[0], `${at}.rungs[${r}].results[${i}][0]`), expectNumber(p[1], `${at}.rungs[${r}].results[${i}][1]`)]);
      });
    });
    return scheduler;
  }
}
