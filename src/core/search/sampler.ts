/**
 * The ask/tell contract every sampler keeps. A sweep workflow asks for trial n's configuration,
 * runs it, and tells the result; the sampler's whole state is plain JSON that the workflow keeps
 * in history and hands to continue-as-new.
 */
import { expectArray, expectNumber, expectRecord } from './json-state.js';
import type { SearchSpace, TrialConfig } from './search-space.js';
import { checkConfig } from './space-sampling.js';
import type { GridSamplerState } from './grid-sampler.js';
import type { RandomSamplerState } from './random-sampler.js';
import type { TpeSamplerState } from './tpe-sampler.js';

/** Whether a larger objective is better ('max', e.g. accuracy) or a smaller one ('min', e.g. loss). */
export type SearchMode = 'max' | 'min';

export interface Observation {
  trialNumber: number;
  config: TrialConfig;
  /** The trial's objective; null for a failed trial (and for NaN or infinite results). */
  value: number | null;
}

export type SamplerState = GridSamplerState | RandomSamplerState | TpeSamplerState;

export interface Sampler {
  readonly space: SearchSpace;
  /**
   * The configuration for trial `trialNumber` (0, 1, 2, ...). A pure function of the sampler's
   * state, its seed and the number: asking again, or asking a restored copy, gives the same
   * answer. Changes nothing. Undefined when the sampler has nothing left to propose (a grid
   * past its last point).
   */
  ask(trialNumber: number): TrialConfig | undefined;
  /** Records a finished trial. Telling the same trial again replaces its earlier result. */
  tell(observation: Observation): void;
  toJSON(): SamplerState;
}

export function checkTrialNumber(trialNumber: number): void {
  if (!Number.isSafeInteger(trialNumber) || trialNumber < 0) {
    throw new RangeError(`trialNumber must be an integer >= 0, got ${String(trialNumber)}`);
  }
}

/** Validates an observation against the space; non-finite values become null (failed). */
export function normaliseObservation(space: SearchSpace, observation: Observation, at = 'observation'): Observation {
  checkTrialNumber(observation.trialNumber);
  const config = checkConfig(space, observation.config, `${at}.config`);
  const value = typeof observation.value === 'number' && Number.isFinite(observation.value) ? observation.value : null;
  return { trialNumber: observation.trialNumber, config, value };
}

/** Inserts or replaces by trial number, keeping the list ordered by trial number. */
export function upsertObservation(list: Observation[], observation: Observation): void {
  const index = list.findIndex((o) => o.trialNumber >= observation.trialNumber);
  if (index < 0) list.push(observation);
  else if (list[index]?.trialNumber === observation.trialNumber) list[index] = observation;
  else list.splice(index, 0, observation);
}

export function parseObservations(space: SearchSpace, value: unknown, at: string): Observation[] {
  const out: Observation[] = [];
  expectArray(value, at).forEach((item, i) => {
    const o = expectRecord(item, `${at}[${i}]`);
    const raw = o['value'];
    const parsed: Observation = {
      trialNumber: expectNumber(o['trialNumber'], `${at}[${i}].trialNumber`),
      config: expectRecord(o['config'], `${at}[${i}].config`) as TrialConfig,
      value: raw === null ? null : expectNumber(raw, `${at}[${i}].value`),
    };
    upsertObservation(out, normaliseObservation(space, parsed, `${at}[${i}]`));
  });
  return out;
}
