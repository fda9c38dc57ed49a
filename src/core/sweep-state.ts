/**
 * The bookkeeping of a sweep, as pure code the sweep workflow drives and unit tests drive with
 * literals: the trial table, the sampler (which configuration next) and the scheduler (which
 * trial goes on after a rung), the budget and concurrency, and the steering requests. Its whole
 * state is plain JSON, so the workflow can hand it to continue-as-new and nothing is lost.
 *
 * A trial trains rung by rung: to the next rung's epoch, then its validation metric goes to the
 * scheduler, which stops it (pruned, or complete at training.epochs) or lets it continue from
 * its own checkpoint. With ASHA in promote mode a trial pauses at each rung instead, and a free
 * slot promotes the best paused trial that is in the top 1/eta of its rung. A finished trial
 * (completed, pruned, failed, stopped) never trains again.
 */
import type { EpochMetrics, ModelPlan, TrainResult } from './manifests.js';
import {
  AshaScheduler, GridSampler, MedianStoppingScheduler, RandomSampler, TpeSampler, checkConfig, parseSearchSpace, restoreSampler, restoreScheduler,
  type Sampler, type SamplerState, type SchedulerState, type TrialConfig, type TrialScheduler,
} from './search/index.js';
import type { SweepConfig, SweepSchedulerConfig } from './sweep-config.js';

/** 'paused': waiting at its rung for a promotion (ASHA in promote mode); it trains again only if promoted. */
export type TrialStatus = 'running' | 'paused' | 'completed' | 'pruned' | 'failed' | 'stopped';
export const TRIAL_STATUSES: readonly TrialStatus[] = ['running', 'paused', 'completed', 'pruned', 'failed', 'stopped'];

export interface TrialRecord {
  number: number;
  config: TrialConfig;
  /** 'enqueued': sent by the enqueue signal rather than proposed by the sampler. */
  source: 'sampler' | 'enqueued';
  status: TrialStatus;
  /** Finished epochs (the trial's checkpoint is at this epoch). */
  epochs: number;
  /** The sweep metric at `epochs`: the metric of the model at `modelUri`. */
  metric?: number;
  /** The best sweep metric over the trial's epochs, and its epoch. */
  bestMetric?: number;
  bestEpoch?: number;
  /** [epoch, metric] at each rung the scheduler saw. */
  rungs: [number, number][];
  /** Rung requests sent to training, and training attempts they took (retries after crashes). */
  rungRequests: number;
  trainingAttempts: number;
  /**
   * Epochs trained over all rungs: each rung counts from where it resumed (the previous rung's
   * end, or earlier if it had to go back further) to its end, including epochs a lost attempt
   * finished and checkpointed. Equal to `epochs` when no rung went back before the previous
   * rung's checkpoint (never from scratch).
   */
  epochsTrained: number;
  plan?: ModelPlan;
  history: EpochMetrics[];
  modelUri?: string;
  checkpointUri?: string;
  historyUri?: string;
  engine?: string;
  backend?: string;
  /** Why it stopped: the scheduler's numbers, a failure message, or the sweep's stop. */
  detail?: string;
}

export interface SweepSettings {
  metric: SweepConfig['metric'];
  /** Every trial's maximum: training.epochs. */
  maxEpochs: number;
  scheduler: SweepSchedulerConfig;
  targetMetric?: number;
}

/**
 * A finished trial ranked below the top `keep` finished trials, as the book still needs it:
 * [number, status index in TRIAL_STATUSES, epochs, epochsTrained, metric (null: none), rungs].
 * Its whole leaderboard row is in the store (`SweepState.unwritten` until written there).
 */
export type ArchivedTrial = [number, number, number, number, number | null, [number, number][]];

/** Finished trials kept whole in the state by default: the leaderboard's head. */
export const DEFAULT_LEADERBOARD_KEEP = 100;

export interface SweepState {
  version: 2;
  settings: SweepSettings;
  budget: number;
  concurrency: number;
  sampler: SamplerState;
  /** Configurations asked of the sampler so far (ask numbers are 0, 1, 2, ...). */
  samplerAsks: number;
  scheduler?: SchedulerState;
  /** Enqueued configurations not started yet, in order. */
  queue: TrialConfig[];
  /**
   * Trials that are not archived: every running or paused trial and the top `keep` finished
   * ones (by the sweep metric), in trial-number order.
   */
  trials: TrialRecord[];
  /** Trials started so far: the next trial's number. */
  trialCount: number;
  /** How many finished trials stay whole; those ranked below them are archived. */
  keep: number;
  /** Finished trials ranked below the top `keep`, in the order they were archived. */
  archive: ArchivedTrial[];
  /** Leaderboard rows of archived trials (rank 0) not yet in the store; the sweep writes them in parts. */
  unwritten: LeaderboardRow[];
  /** Parts written so far to `sweeps/<id>/trials/` (part numbers 0, 1, ...). */
  archiveParts: number;
  stopReason?: string;
  /** Steering requests that were refused, newest last (at most 20). */
  notices: string[];
  /**
   * The best finished trial with a model: the only finished trial whose plan and history are
   * kept (the sweep's best comes from it); other finished trials drop them to keep the state
   * small, since their history is in the store at historyUri.
   */
  bestFinished?: number;
}

/** State written before trials could be archived (no archive; `trials` holds every trial). */
export type SweepStateV1 = Omit<SweepState, 'version' | 'trialCount' | 'keep' | 'archive' | 'unwritten' | 'archiveParts'> & { version: 1 };

/** One rung's outcome as the trial workflow returns it. */
export interface RungOutcome {
  /** The epoch the rung asked to stop after. */
  requestedEpoch: number;
  plan: ModelPlan;
  training: TrainResult;
}

export interface Launch {
  trialNumber: number;
  config: TrialConfig;
  /** Train to this epoch (stopAfterEpoch). */
  targetEpoch: number;
  plan?: ModelPlan;
}

export interface LeaderboardRow {
  rank: number;
  trial: number;
  status: TrialStatus;
  source: TrialRecord['source'];
  config: TrialConfig;
  epochs: number;
  epochsTrained: number;
  metric?: number;
  bestMetric?: number;
  bestEpoch?: number;
  modelUri?: string;
  checkpointUri?: string;
  historyUri?: string;
  detail?: string;
}

const MAX_NOTICES = 20;
const SWEEP_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A sweep id names store folders (`sweeps/<id>/`, `runs/<id>/trial-<n>/`): one safe path segment. */
export function checkSweepId(sweepId: string): void {
  if (!SWEEP_ID.test(sweepId)) {
    throw new RangeError(`sweepId must be 1-128 letters, digits, '.', '_' or '-' and start with a letter or digit, got ${JSON.stringify(sweepId)}`);
  }
}

export class SweepBook {
  private constructor(
    private readonly state: SweepState,
    private readonly sampler: Sampler,
    private readonly scheduler: TrialScheduler | undefined,
  ) {}

  /** A new sweep; `maxEpochs` is training.epochs. */
  static create(sweep: SweepConfig, maxEpochs: number, options: { keep?: number } = {}): SweepBook {
    if (options.keep !== undefined && (!Number.isSafeInteger(options.keep) || options.keep < 1)) throw new RangeError(`keep must be an integer >= 1, got ${options.keep}`);
    const space = parseSearchSpace(sweep.space, 'sweep.space');
    const mode = sweep.metric === 'val_loss' ? 'min' : 'max';
    const sampler: Sampler =
      sweep.sampler === 'grid' ? new GridSampler({ space, points: sweep.gridPoints })
        : sweep.sampler === 'random' ? new RandomSampler({ space, seed: sweep.seed })
          : new TpeSampler({ space, seed: sweep.seed, mode });
    const s = sweep.scheduler;
    const scheduler: TrialScheduler | undefined =
      s.kind === 'asha' && s.mode === 'promote' ? undefined
        : s.kind === 'asha' ? new AshaScheduler({ mode, minResource: Math.min(s.minEpochs, maxEpochs), maxResource: maxEpochs, reductionFactor: s.reductionFactor })
        : s.kind === 'median' ? new MedianStoppingScheduler({ mode, gracePeriod: s.gracePeriod, minTrials: s.minTrials })
          : undefined;
    const settings: SweepSettings = { metric: sweep.metric, maxEpochs, scheduler: s, ...(sweep.targetMetric !== undefined ? { targetMetric: sweep.targetMetric } : {}) };
    const state: SweepState = {
      version: 2, settings, budget: sweep.trials, concurrency: sweep.concurrency, sampler: sampler.toJSON(), samplerAsks: 0,
      ...(scheduler ? { scheduler: scheduler.toJSON() } : {}), queue: [], trials: [], trialCount: 0, keep: options.keep ?? DEFAULT_LEADERBOARD_KEEP,
      archive: [], unwritten: [], archiveParts: 0, notices: [],
    };
    return new SweepBook(state, sampler, scheduler);
  }

  /** The book a continue-as-new (or a test) handed over. */
  static restore(state: SweepState | SweepStateV1): SweepBook {
    if (state.version !== 1 && state.version !== 2) throw new RangeError(`sweep state version ${JSON.stringify((state as { version: unknown }).version)} is not supported (expected 1 or 2)`);
    const copy = JSON.parse(JSON.stringify(state)) as SweepState | SweepStateV1;
    if (copy.version === 1) return SweepBook.restore({ ...copy, version: 2, trialCount: copy.trials.length, keep: DEFAULT_LEADERBOARD_KEEP, archive: [], unwritten: [], archiveParts: 0 });
    return new SweepBook(copy, restoreSampler(copy.sampler), copy.scheduler === undefined ? undefined : restoreScheduler(copy.scheduler));
  }

  get budget(): number { return this.state.budget; }
  get concurrency(): number { return this.state.concurrency; }
  get stopReason(): string | undefined { return this.state.stopReason; }
  /** The trials not archived (see SweepState.trials). */
  get trials(): readonly TrialRecord[] { return this.state.trials; }
  get trialCount(): number { return this.state.trialCount; }
  /** Finished trials kept whole: the leaderboard's head. */
  get keep(): number { return this.state.keep; }
  /** Archived trials' rows waiting to be written to the store. */
  get unwritten(): readonly LeaderboardRow[] { return this.state.unwritten; }
  get archiveParts(): number { return this.state.archiveParts; }
  get queued(): number { return this.state.queue.length; }
  get notices(): readonly string[] { return this.state.notices; }
  get settings(): SweepSettings { return this.state.settings; }

  /** The epoch a trial with `epochs` finished epochs trains to next. */
  nextTarget(epochs: number): number {
    const { maxEpochs, scheduler } = this.state.settings;
    if (scheduler.kind === 'asha') {
      const minEpochs = Math.min(scheduler.minEpochs, maxEpochs);
      for (let milestone = minEpochs; milestone < maxEpochs; milestone *= scheduler.reductionFactor) if (milestone > epochs) return milestone;
      return maxEpochs;
    }
    if (scheduler.kind === 'median') return Math.min(maxEpochs, Math.max(epochs + 1, scheduler.gracePeriod));
    return maxEpochs;
  }

  /**
   * Rungs to start now, given the trials training at the moment: promoted trials first (they
   * hold their place), then enqueued configurations, then the sampler's, up to the concurrency
   * and the budget. New trials enter the table as 'running'.
   */
  launches(training: ReadonlySet<number>): Launch[] {
    const out: Launch[] = [];
    if (this.state.stopReason !== undefined) return out;
    const free = () => this.state.concurrency - training.size - out.length;
    for (const trial of this.state.trials) {
      if (free() <= 0) return out;
      if (trial.status === 'running' && !training.has(trial.number)) out.push(this.launchOf(trial));
    }
    while (free() > 0) {
      const promoted = this.promotable(training.size + out.length === 0);
      if (promoted === undefined) break;
      promoted.status = 'running';
      out.push(this.launchOf(promoted));
    }
    while (free() > 0) {
      const trial = this.newTrial();
      if (trial === undefined) break;
      out.push(this.launchOf(trial));
    }
    return out;
  }

  /** Whether anything is left to train: a promoted trial, or a new trial within the budget (nothing once stopping). */
  hasWork(training: ReadonlySet<number>): boolean {
    if (this.state.stopReason !== undefined) return false;
    if (this.state.trials.some((t) => t.status === 'running' && !training.has(t.number))) return true;
    return this.canStartTrial() || this.promotable(training.size === 0) !== undefined;
  }

  /** Records a finished rung and returns the trial's status after the scheduler's decision. */
  recordRung(trialNumber: number, outcome: RungOutcome): TrialStatus {
    const trial = this.trial(trialNumber);
    trial.rungRequests++;
    const t = outcome.training;
    trial.trainingAttempts += t.attempts;
    trial.epochsTrained += t.epochsCompleted - Math.min(t.resumedFromEpoch, trial.epochs);
    trial.plan = outcome.plan;
    trial.history = t.history;
    trial.epochs = t.epochsCompleted;
    trial.modelUri = t.modelUri;
    trial.historyUri = t.historyUri;
    trial.checkpointUri = t.checkpointUris.at(-1) ?? trial.checkpointUri;
    trial.engine = t.engine;
    trial.backend = t.backend;
    const value = metricOf(t.history.find((h) => h.epoch === trial.epochs) ?? t.history.at(-1), this.state.settings.metric);
    trial.metric = value;
    const best = bestOf(t.history, this.state.settings.metric);
    if (best) {
      trial.bestMetric = best.value;
      trial.bestEpoch = best.epoch;
    }
    if (trial.status !== 'running') return trial.status;
    trial.rungs.push([trial.epochs, value]);

    let status: TrialStatus = 'running';
    let detail: string | undefined;
    const decision = this.scheduler?.report({ trialNumber, step: trial.epochs, value });
    if (this.scheduler) this.state.scheduler = this.scheduler.toJSON();
    if (decision?.action === 'stop') {
      status = decision.reason === 'pruned' ? 'pruned' : 'completed';
      detail = decision.detail;
    } else if (trial.epochs >= this.state.settings.maxEpochs) {
      status = 'completed';
    } else if (trial.epochs < outcome.requestedEpoch) {
      status = 'completed';
      detail = `early stopping ended training at epoch ${trial.epochs} of ${outcome.requestedEpoch} asked`;
    } else if (this.promoteMode()) {
      trial.status = 'paused';
    }
    if (status !== 'running') this.finish(trial, status, detail);
    this.checkTarget(trial);
    return trial.status;
  }

  /** A rung that failed (after its retries): the trial fails and the sampler learns it. */
  recordFailure(trialNumber: number, message: string): void {
    const trial = this.trial(trialNumber);
    trial.rungRequests++;
    if (trial.status === 'running') this.finish(trial, 'failed', message);
  }

  /** A rung cancelled by the sweep's stopNow: the trial ends stopped, keeping its last finished rung. */
  recordCancelled(trialNumber: number): void {
    const trial = this.trial(trialNumber);
    trial.rungRequests++;
    if (trial.status === 'running') this.finish(trial, 'stopped', `rung cancelled: ${this.state.stopReason ?? 'the sweep was stopped'}`);
  }

  /** No new trials or rungs from now on; running rungs finish, then their trials count as stopped. */
  stop(reason: string): void {
    this.state.stopReason ??= reason;
    this.state.queue = [];
  }

  /**
   * At the sweep's end: trials that would have trained on are 'stopped'; trials paused at a rung
   * and never promoted are 'pruned' (or 'stopped' when the sweep was stopped).
   */
  closeRunning(): void {
    for (const trial of this.state.trials) {
      if (trial.status === 'running') this.finish(trial, 'stopped', this.state.stopReason ?? 'the sweep ended');
      else if (trial.status === 'paused') {
        if (this.state.stopReason !== undefined) this.finish(trial, 'stopped', this.state.stopReason);
        else this.finish(trial, 'pruned', this.rungStanding(trial));
      }
    }
  }

  extendBudget(n: unknown): void {
    if (!Number.isSafeInteger(n) || (n as number) < 1) throw new RangeError(`extendBudget: n must be an integer >= 1, got ${JSON.stringify(n)}`);
    if (this.state.stopReason !== undefined) throw new RangeError(`extendBudget(${n as number}) refused: the sweep is stopping (${this.state.stopReason})`);
    this.state.budget += n as number;
  }

  setConcurrency(n: unknown): void {
    if (!Number.isSafeInteger(n) || (n as number) < 1 || (n as number) > 1000) throw new RangeError(`setConcurrency: n must be an integer from 1 to 1000, got ${JSON.stringify(n)}`);
    this.state.concurrency = n as number;
  }

  /** Validates `config` against the space; it runs before any sampled trial, in addition to the budget. */
  enqueue(config: unknown): TrialConfig {
    if (typeof config !== 'object' || config === null || Array.isArray(config)) throw new TypeError(`enqueue: config must be a mapping of parameter to value, got ${JSON.stringify(config)}`);
    if (this.state.stopReason !== undefined) throw new RangeError(`enqueue refused: the sweep is stopping (${this.state.stopReason})`);
    const checked = checkConfig(this.sampler.space, config as Record<string, unknown>, 'enqueue');
    this.state.queue.push(checked);
    this.state.budget += 1;
    return checked;
  }

  notice(message: string): void {
    this.state.notices.push(message);
    if (this.state.notices.length > MAX_NOTICES) this.state.notices.splice(0, this.state.notices.length - MAX_NOTICES);
  }

  /**
   * The trials not archived, ranked: with a metric best first (ties: lower trial number), then
   * the rest by number. Its first `keep` rows are the sweep's whole leaderboard head (an archived
   * trial ranks below `keep` finished trials); further rows are ranked among the trials not archived.
   */
  leaderboard(limit = Infinity): LeaderboardRow[] {
    const ranked = rankRows(this.state.trials.map(rowOf), this.state.settings.metric);
    return ranked.slice(0, limit);
  }

  /** A trial's leaderboard row (rank 0) while the state still holds it whole: not archived, or archived but not yet written. */
  row(n: number): LeaderboardRow | undefined {
    const trial = this.state.trials.find((t) => t.number === n);
    return trial !== undefined ? rowOf(trial) : this.state.unwritten.find((r) => r.trial === n);
  }

  /** Marks the first `count` unwritten rows as written (one more part in the store). */
  markWritten(count: number): void {
    if (!Number.isSafeInteger(count) || count < 1 || count > this.state.unwritten.length) {
      throw new RangeError(`markWritten: count must be 1-${this.state.unwritten.length}, got ${count}`);
    }
    this.state.unwritten.splice(0, count);
    this.state.archiveParts++;
  }

  /** The best trial with a model, as the pipeline's phase 5 takes it. */
  best(): TrialRecord | undefined {
    const top = this.leaderboard().find((row) => row.modelUri !== undefined && row.metric !== undefined && Number.isFinite(row.metric));
    return top === undefined ? undefined : this.trial(top.trial);
  }

  counts(): Record<TrialStatus, number> & { total: number } {
    const out = { running: 0, paused: 0, completed: 0, pruned: 0, failed: 0, stopped: 0, total: this.state.trialCount };
    for (const t of this.state.trials) out[t.status]++;
    for (const a of this.state.archive) out[TRIAL_STATUSES[a[1]]!]++;
    return out;
  }

  toJSON(): SweepState {
    return JSON.parse(JSON.stringify(this.state)) as SweepState;
  }

  private trial(n: number): TrialRecord {
    const trial = this.state.trials.find((t) => t.number === n);
    if (trial === undefined) {
      if (this.state.archive.some((a) => a[0] === n)) throw new RangeError(`trial ${n} is finished and archived (its row is in the store)`);
      throw new RangeError(`no trial ${n} in this sweep (trials 0-${this.state.trialCount - 1})`);
    }
    return trial;
  }

  /** Negative when the metric value `a` of trial `an` ranks before `b` of trial `bn`: the better value, then the lower trial number. */
  private compareMetric(a: number, an: number, b: number, bn: number): number {
    return compareByMetric(this.state.settings.metric, a, an, b, bn);
  }

  private promoteMode(): boolean {
    const s = this.state.settings.scheduler;
    return s.kind === 'asha' && s.mode === 'promote';
  }

  /** ASHA's rungs below the maximum: minEpochs, minEpochs x eta, ... */
  private milestones(): number[] {
    const out: number[] = [];
    for (let e = this.nextTarget(0); e < this.state.settings.maxEpochs; e = this.nextTarget(e)) out.push(e);
    return out;
  }

  /** Trials with a result at rung `epoch`, best first (ties and missing values: lower number first). */
  private rankedAt(epoch: number): { number: number; trial?: TrialRecord; value: number }[] {
    const rows: { number: number; trial?: TrialRecord; value: number }[] = [];
    for (const trial of this.state.trials) {
      const rung = trial.rungs.find(([e]) => e === epoch);
      if (rung !== undefined) rows.push({ number: trial.number, trial, value: rung[1] });
    }
    for (const [number, , , , , rungs] of this.state.archive) {
      const rung = rungs.find(([e]) => e === epoch);
      if (rung !== undefined) rows.push({ number, value: rung[1] ?? NaN });
    }
    return rows.sort((a, b) => {
      const fa = Number.isFinite(a.value);
      const fb = Number.isFinite(b.value);
      if (!fa || !fb) return fa === fb ? a.number - b.number : fa ? -1 : 1;
      return this.compareMetric(a.value, a.number, b.value, b.number);
    });
  }

  /**
   * The paused trial to promote next (higher rungs first), if any: one in the top
   * floor(n / eta) of the n results at its rung. `final` (nothing trains and no trial can start):
   * the rung's best paused trial also goes on when no trial of that rung has been promoted yet.
   */
  private promotable(final: boolean): TrialRecord | undefined {
    const s = this.state.settings.scheduler;
    if (s.kind !== 'asha' || s.mode !== 'promote' || this.state.stopReason !== undefined) return undefined;
    const last = final && !this.canStartTrial();
    // The ordinary rule first, at every rung; the last resort only when it promotes nothing.
    for (const relaxed of last ? [false, true] : [false]) {
      for (const epoch of this.milestones().reverse()) {
        const ranked = this.rankedAt(epoch);
        const waiting = (t: TrialRecord | undefined): t is TrialRecord => t !== undefined && t.status === 'paused' && t.epochs === epoch;
        if (!ranked.some((r) => waiting(r.trial))) continue;
        let top = Math.floor(ranked.length / s.reductionFactor);
        if (relaxed && top === 0) top = 1;
        const pick = ranked.slice(0, top).find((r) => waiting(r.trial) && Number.isFinite(r.value));
        if (pick?.trial !== undefined) return pick.trial;
      }
    }
    return undefined;
  }

  /** Why a paused trial was never promoted: its place at its rung. */
  private rungStanding(trial: TrialRecord): string {
    const s = this.state.settings.scheduler;
    const eta = s.kind === 'asha' ? s.reductionFactor : 1;
    const ranked = this.rankedAt(trial.epochs);
    const place = ranked.findIndex((r) => r.trial === trial) + 1;
    return `not promoted from rung ${trial.epochs}: ${ordinal(place)} of ${ranked.length} there, where the top ${Math.max(1, Math.floor(ranked.length / eta))} go on (1/${eta})`;
  }

  private launchOf(trial: TrialRecord): Launch {
    return { trialNumber: trial.number, config: { ...trial.config }, targetEpoch: this.nextTarget(trial.epochs), ...(trial.plan ? { plan: trial.plan } : {}) };
  }

  private canStartTrial(): boolean {
    if (this.state.stopReason !== undefined || this.state.trialCount >= this.state.budget) return false;
    if (this.state.queue.length > 0) return true;
    // Only a grid runs out; asking TPE is not free, so others are not asked twice per trial.
    return !(this.sampler instanceof GridSampler) || this.sampler.ask(this.state.samplerAsks) !== undefined;
  }

  private newTrial(): TrialRecord | undefined {
    if (!this.canStartTrial()) return undefined;
    let config = this.state.queue.shift();
    const source = config === undefined ? 'sampler' : 'enqueued';
    if (config === undefined) {
      config = this.sampler.ask(this.state.samplerAsks);
      if (config === undefined) return undefined;
      this.state.samplerAsks++;
    }
    const trial: TrialRecord = { number: this.state.trialCount++, config, source, status: 'running', epochs: 0, rungs: [], rungRequests: 0, trainingAttempts: 0, epochsTrained: 0, history: [] };
    this.state.trials.push(trial);
    return trial;
  }

  private finish(trial: TrialRecord, status: TrialStatus, detail: string | undefined): void {
    trial.status = status;
    if (detail !== undefined) trial.detail = detail;
    if (status !== 'stopped') {
      this.sampler.tell({ trialNumber: trial.number, config: trial.config, value: status === 'failed' ? null : (trial.metric ?? null) });
      this.state.sampler = this.sampler.toJSON();
    }
    this.compact(trial);
    this.archiveBeyondKeep();
  }

  /**
   * Finished trials ranked below the top `keep` finished trials leave the table: the book keeps what ranking, counts and ASHA's rungs need, and their whole rows wait
   * in `unwritten` for the sweep to write them to the store. Such a trial can never climb back:
   * its metric is final and later trials only add rows above or below it. So the state stays
   * bounded by `keep` plus the trials running or paused, whatever the sweep's length.
   */
  private archiveBeyondKeep(): void {
    const finished = this.state.trials.filter((t) => t.status !== 'running' && t.status !== 'paused');
    if (finished.length <= this.state.keep) return;
    // The best finished trial (phase 5's model) always ranks among them; it is never archived.
    const below = rankRows(finished.map(rowOf), this.state.settings.metric).slice(this.state.keep).filter((r) => r.trial !== this.state.bestFinished);
    const leaving = new Set(below.map((r) => r.trial));
    for (const row of below) {
      const t = this.trial(row.trial);
      this.state.archive.push([t.number, TRIAL_STATUSES.indexOf(t.status), t.epochs, t.epochsTrained, t.metric !== undefined && Number.isFinite(t.metric) ? t.metric : null, t.rungs]);
      this.state.unwritten.push({ ...row, rank: 0 });
    }
    this.state.trials = this.state.trials.filter((t) => !leaving.has(t.number));
  }

  /**
   * A finished trial keeps its plan and history only while it is the best finished trial with a
   * model; a finished trial's metric no longer changes, so one that is not the best now never
   * becomes the sweep's best later (at the end every trial is finished).
   */
  private compact(finished: TrialRecord): void {
    const eligible = (t: TrialRecord) => t.modelUri !== undefined && t.metric !== undefined && Number.isFinite(t.metric);
    const better = (a: TrialRecord, b: TrialRecord) => this.compareMetric(a.metric!, a.number, b.metric!, b.number) < 0;
    const strip = (t: TrialRecord) => {
      delete t.plan;
      t.history = [];
    };
    const current = this.state.bestFinished === undefined ? undefined : this.state.trials.find((t) => t.number === this.state.bestFinished);
    if (eligible(finished) && (current === undefined || better(finished, current))) {
      if (current !== undefined) strip(current);
      this.state.bestFinished = finished.number;
    } else {
      strip(finished);
    }
  }

  private checkTarget(trial: TrialRecord): void {
    const target = this.state.settings.targetMetric;
    if (target === undefined || trial.metric === undefined || this.state.stopReason !== undefined) return;
    const loss = this.state.settings.metric === 'val_loss';
    if (loss ? trial.metric <= target : trial.metric >= target) {
      this.stop(`trial ${trial.number} reached ${this.state.settings.metric} ${trial.metric} (target ${loss ? '<=' : '>='} ${target})`);
    }
  }
}

/** The sweep metric of one epoch; NaN when the epoch has no validation figures. */
export function metricOf(epoch: EpochMetrics | undefined, metric: SweepSettings['metric']): number {
  const value = metric === 'val_loss' ? epoch?.valLoss : epoch?.valAccuracy;
  return value ?? NaN;
}

function bestOf(history: readonly EpochMetrics[], metric: SweepSettings['metric']): { epoch: number; value: number } | undefined {
  let best: { epoch: number; value: number } | undefined;
  for (const h of history) {
    const value = metricOf(h, metric);
    if (!Number.isFinite(value)) continue;
    if (best === undefined || (metric === 'val_loss' ? value < best.value : value > best.value)) best = { epoch: h.epoch, value };
  }
  return best;
}

/** The TrainResult the pipeline's phase 5 takes for a trial's final model. */
export function trainResultOf(trial: TrialRecord): TrainResult {
  if (trial.modelUri === undefined || trial.historyUri === undefined) throw new RangeError(`trial ${trial.number} has no model yet`);
  return {
    modelUri: trial.modelUri,
    checkpointUris: trial.checkpointUri ? [trial.checkpointUri] : [],
    historyUri: trial.historyUri,
    history: trial.history,
    bestEpoch: trial.bestEpoch ?? trial.epochs,
    epochsCompleted: trial.epochs,
    resumedFromEpoch: 0,
    attempts: trial.trainingAttempts,
    engine: trial.engine ?? 'unknown',
    backend: trial.backend ?? 'unknown',
  };
}

/** Negative when value `a` of trial `an` ranks before `b` of trial `bn`: the better value, then the lower trial number. */
function compareByMetric(metric: SweepSettings['metric'], a: number, an: number, b: number, bn: number): number {
  const sign = metric === 'val_loss' ? 1 : -1;
  return sign * (a - b) || an - bn;
}

function rowOf(t: TrialRecord): LeaderboardRow {
  return {
    rank: 0, trial: t.number, status: t.status, source: t.source, config: { ...t.config }, epochs: t.epochs, epochsTrained: t.epochsTrained,
    ...pick(t, ['metric', 'bestMetric', 'bestEpoch', 'modelUri', 'checkpointUri', 'historyUri', 'detail']),
  };
}

/**
 * Leaderboard order, with ranks from 1: rows with a finite metric best first (ties: lower trial
 * number), then the rest by trial number. The book and the store's full leaderboard (merged from
 * archived parts) both rank with it.
 */
export function rankRows(rows: readonly LeaderboardRow[], metric: SweepSettings['metric']): LeaderboardRow[] {
  const finite = (r: LeaderboardRow) => r.metric !== undefined && r.metric !== null && Number.isFinite(r.metric);
  return [...rows].sort((a, b) => {
    const fa = finite(a);
    const fb = finite(b);
    if (!fa || !fb) return fa === fb ? a.trial - b.trial : fa ? -1 : 1;
    return compareByMetric(metric, a.metric!, a.trial, b.metric!, b.trial);
  }).map((r, i) => ({ ...r, rank: i + 1 }));
}

function ordinal(n: number): string {
  const tail = n % 100 >= 11 && n % 100 <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${tail}`;
}

function pick<T extends object, K extends keyof T>(value: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (value[k] !== undefined) out[k] = value[k];
  return out;
}
