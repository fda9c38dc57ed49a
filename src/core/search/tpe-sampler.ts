/**
 * Tree-structured Parzen Estimator (Bergstra et al. 2011, as in hyperopt and Optuna's univariate
 * TPE). After a few prior draws, finished trials are split into the best fraction gamma and the
 * rest; each parameter gets a density l(x) from the good trials and g(x) from the others, and the
 * candidate drawn from l with the largest l(x)/g(x) wins. Conditional parameters are modelled
 * only from the trials where they were active.
 */
import { createRng, type Rng } from '../rng.js';
import { deriveSeed } from './derive-seed.js';
import { expectArray, expectKind, expectNumber, expectOneOf, expectRecord } from './json-state.js';
import { parseSearchSpace } from './parse-search-space.js';
import { buildCategorical, buildNumericMixture, logDensity, logMass, pickIndex, sampleNumeric } from './parzen-estimator.js';
import {
  checkTrialNumber,
  normaliseObservation,
  parseObservations,
  upsertObservation,
  type Observation,
  type Sampler,
  type SearchMode,
} from './sampler.js';
import { isActive, spaceDefinition, type ParamSpec, type ParamValue, type SearchSpace, type SearchSpaceDefinition, type TrialConfig } from './search-space.js';
import { sampleConfig } from './space-sampling.js';

export interface TpeSamplerOptions {
  space: SearchSpace;
  /** Safe integer; with the same observations, the same seed proposes the same configuration. */
  seed: number;
  /** 'max' when a larger objective is better. */
  mode: SearchMode;
  /** Finished trials drawn from the prior before the model is used. Defaults to 10. */
  startupTrials?: number;
  /** Candidates drawn from l(x) per parameter; the one with the largest l(x)/g(x) is kept. Defaults to 24. */
  eiCandidates?: number;
  /** Fraction of finished trials counted as good (at least 1, at most 25 trials). Defaults to 0.1. */
  gamma?: number;
  /** Weight of the prior component in every density, against 1 per recent observation. Defaults to 1. */
  priorWeight?: number;
}

/**
 * One told trial, compactly: [trialNumber, value (null: failed), then each parameter's value in
 * `TpeSamplerState.params` order, null where its condition left it inactive]. A long sweep's
 * state carries one per trial, so it is ~50 bytes instead of ~130 as an object with keys.
 */
export type PackedObservation = [number, number | null, ...(ParamValue | null)[]];

export interface TpeSamplerState {
  kind: 'tpe';
  version: 2;
  space: SearchSpaceDefinition;
  seed: number;
  mode: SearchMode;
  startupTrials: number;
  eiCandidates: number;
  gamma: number;
  priorWeight: number;
  /** Parameter names, the columns of each packed observation after the first two. */
  params: string[];
  /** Ordered by trial number. */
  observations: PackedObservation[];
}

const MAX_GOOD_TRIALS = 25;

export class TpeSampler implements Sampler {
  readonly space: SearchSpace;
  private readonly settings: Omit<TpeSamplerState, 'kind' | 'version' | 'space' | 'params' | 'observations'>;
  private readonly observations: Observation[] = [];

  constructor(options: TpeSamplerOptions) {
    deriveSeed(options.seed);
    const startupTrials = options.startupTrials ?? 10;
    const eiCandidates = options.eiCandidates ?? 24;
    const gamma = options.gamma ?? 0.1;
    const priorWeight = options.priorWeight ?? 1;
    if (options.mode !== 'max' && options.mode !== 'min') throw new RangeError(`tpe mode must be 'max' or 'min', got ${JSON.stringify(options.mode)}`);
    if (!Number.isInteger(startupTrials) || startupTrials < 0) throw new RangeError(`tpe startupTrials must be an integer >= 0, got ${startupTrials}`);
    if (!Number.isInteger(eiCandidates) || eiCandidates < 1) throw new RangeError(`tpe eiCandidates must be an integer >= 1, got ${eiCandidates}`);
    if (!(gamma > 0 && gamma <= 1)) throw new RangeError(`tpe gamma must be in (0, 1], got ${gamma}`);
    if (!(priorWeight > 0 && Number.isFinite(priorWeight))) throw new RangeError(`tpe priorWeight must be > 0, got ${priorWeight}`);
    this.space = options.space;
    this.settings = { seed: options.seed, mode: options.mode, startupTrials, eiCandidates, gamma, priorWeight };
  }

  ask(trialNumber: number): TrialConfig {
    checkTrialNumber(trialNumber);
    const rng = createRng(deriveSeed(this.settings.seed, trialNumber));
    const finished = this.observations.filter((o) => o.value !== null);
    if (finished.length < this.settings.startupTrials) return sampleConfig(this.space, rng);

    const sign = this.settings.mode === 'max' ? -1 : 1;
    const ranked = [...finished].sort((a, b) => sign * ((a.value as number) - (b.value as number)) || a.trialNumber - b.trialNumber);
    const goodCount = Math.min(MAX_GOOD_TRIALS, Math.max(1, Math.ceil(this.settings.gamma * finished.length)));
    const byTrial = (a: Observation, b: Observation): number => a.trialNumber - b.trialNumber;
    const good = ranked.slice(0, goodCount).sort(byTrial);
    const bad = ranked.slice(goodCount).sort(byTrial);

    const config: TrialConfig = {};
    for (const param of this.space.params) {
      if (!isActive(param, config)) continue;
      const goodValues = valuesOf(good, param.name);
      const badValues = valuesOf(bad, param.name);
      config[param.name] = this.proposeParam(param, goodValues, badValues, rng);
    }
    return config;
  }

  tell(observation: Observation): void {
    upsertObservation(this.observations, normaliseObservation(this.space, observation));
  }

  /** Finished and failed trials told so far, ordered by trial number. */
  history(): readonly Observation[] {
    return this.observations.map((o) => ({ ...o, config: { ...o.config } }));
  }

  toJSON(): TpeSamplerState {
    const params = this.space.params.map((p) => p.name);
    const observations = this.observations.map((o): PackedObservation => [o.trialNumber, o.value, ...params.map((name) => o.config[name] ?? null)]);
    return { kind: 'tpe', version: 2, space: spaceDefinition(this.space), ...this.settings, params, observations };
  }

  static fromJSON(state: unknown): TpeSampler {
    const at = 'tpe sampler state';
    const s = expectRecord(state, at);
    // Version 1 kept observations as objects ({ trialNumber, config, value }).
    const packed = s['version'] !== 1;
    if (packed) expectKind(s, 'tpe', 2, at);
    const space = parseSearchSpace(s['space'], `${at}.space`);
    const sampler = new TpeSampler({
      space,
      seed: expectNumber(s['seed'], `${at}.seed`),
      mode: expectOneOf(s['mode'], ['max', 'min'] as const, `${at}.mode`),
      startupTrials: expectNumber(s['startupTrials'], `${at}.startupTrials`),
      eiCandidates: expectNumber(s['eiCandidates'], `${at}.eiCandidates`),
      gamma: expectNumber(s['gamma'], `${at}.gamma`),
      priorWeight: expectNumber(s['priorWeight'], `${at}.priorWeight`),
    });
    const observations = packed ? unpackObservations(s['params'], s['observations'], at) : s['observations'];
    for (const o of parseObservations(space, observations, `${at}.observations`)) sampler.observations.push(o);
    return sampler;
  }

  private proposeParam(param: ParamSpec, good: ParamValue[], bad: ParamValue[], rng: Rng): ParamValue {
    const { eiCandidates, priorWeight } = this.settings;
    if (param.type === 'choice') {
      const index = (v: ParamValue): number => param.values.indexOf(v);
      const l = buildCategorical(good.map(index), param.values.length, priorWeight);
      const g = buildCategorical(bad.map(index), param.values.length, priorWeight);
      let best = 0;
      let bestScore = -Infinity;
      for (let i = 0; i < eiCandidates; i++) {
        const c = pickIndex(l, rng.next());
        const score = Math.log(l[c] as number) - Math.log(g[c] as number);
        if (score > bestScore) [best, bestScore] = [c, score];
      }
      return param.values[best] as ParamValue;
    }

    const scale = numericScale(param);
    const l = buildNumericMixture((good as number[]).map(scale.to), scale.low, scale.high, priorWeight);
    const g = buildNumericMixture((bad as number[]).map(scale.to), scale.low, scale.high, priorWeight);
    let best = scale.from((scale.low + scale.high) / 2);
    let bestScore = -Infinity;
    for (let i = 0; i < eiCandidates; i++) {
      const value = scale.from(sampleNumeric(l, rng));
      let score: number;
      if (param.type === 'int') {
        // An integer owns the interval that rounds to it, so compare probabilities, not densities.
        const [a, b] = param.log ? [Math.log(value - 0.5), Math.log(value + 0.5)] : [value - 0.5, value + 0.5];
        score = logMass(l, a, b) - logMass(g, a, b);
      } else {
        score = logDensity(l, scale.to(value)) - logDensity(g, scale.to(value));
      }
      if (score > bestScore) [best, bestScore] = [value, score];
    }
    return best;
  }
}

/** Packed observations back to { trialNumber, config, value } records (checked against the space by the caller). */
function unpackObservations(params: unknown, observations: unknown, at: string): unknown[] {
  if (!Array.isArray(params) || !params.every((p) => typeof p === 'string')) throw new TypeError(`${at}.params must be a list of parameter names, got ${JSON.stringify(params)}`);
  return expectArray(observations, `${at}.observations`).map((row, i) => {
    if (!Array.isArray(row) || row.length !== params.length + 2) {
      throw new TypeError(`${at}.observations[${i}] must be [trialNumber, value, ${params.join(', ')}], got ${JSON.stringify(row)}`);
    }
    const config: Record<string, unknown> = {};
    params.forEach((name: string, k) => {
      if (row[k + 2] !== null) config[name] = row[k + 2];
    });
    return { trialNumber: row[0], value: row[1], config };
  });
}

function valuesOf(observations: readonly Observation[], name: string): ParamValue[] {
  const out: ParamValue[] = [];
  for (const o of observations) {
    const v = o.config[name];
    if (v !== undefined) out.push(v);
  }
  return out;
}

interface NumericScale {
  /** Bounds in the scale the kernels live in. */
  low: number;
  high: number;
  to(value: number): number;
  from(x: number): number;
}

/** Log parameters are modelled in log space; integers widen by half a step so end values get full intervals. */
function numericScale(param: Exclude<ParamSpec, { type: 'choice' }>): NumericScale {
  const clampTo = (v: number): number => Math.min(param.high, Math.max(param.low, v));
  if (param.type === 'uniform') return { low: param.low, high: param.high, to: (v) => v, from: clampTo };
  if (param.type === 'log-uniform') return { low: Math.log(param.low), high: Math.log(param.high), to: Math.log, from: (x) => clampTo(Math.exp(x)) };
  if (param.log) return { low: Math.log(param.low - 0.5), high: Math.log(param.high + 0.5), to: Math.log, from: (x) => clampTo(Math.round(Math.exp(x))) };
  return { low: param.low - 0.5, high: param.high + 0.5, to: (v) => v, from: (x) => clampTo(Math.round(x)) };
}
