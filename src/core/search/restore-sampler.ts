/** Rebuilds whichever sampler a serialised state came from (e.g. after continue-as-new). */
import { GridSampler } from './grid-sampler.js';
import { expectOneOf, expectRecord } from './json-state.js';
import { RandomSampler } from './random-sampler.js';
import type { Sampler } from './sampler.js';
import { TpeSampler } from './tpe-sampler.js';

export function restoreSampler(state: unknown): Sampler {
  const kind = expectOneOf(expectRecord(state, 'sampler state')['kind'], ['grid', 'random', 'tpe'] as const, 'sampler state.kind');
  if (kind === 'grid') return GridSampler.fromJSON(state);
  if (kind === 'random') return RandomSampler.fromJSON(state);
  return TpeSampler.fromJSON(state);
}
