/** Independent draws from the space's prior. */
import { createRng } from '../rng.js';
import { deriveSeed } from './derive-seed.js';
import { expectKind, expectNumber, expectRecord } from './json-state.js';
import { parseSearchSpace } from './parse-search-space.js';
import { checkTrialNumber, normaliseObservation, type Observation, type Sampler } from './sampler.js';
import { spaceDefinition, type SearchSpace, type SearchSpaceDefinition, type TrialConfig } from './search-space.js';
import { sampleConfig } from './space-sampling.js';

export interface RandomSamplerOptions {
  space: SearchSpace;
  /** Safe integer; the same seed gives the same configuration for each trial number. */
  seed: number;
}

export interface RandomSamplerState {
  kind: 'random';
  version: 1;
  space: SearchSpaceDefinition;
  seed: number;
}

/** Trial n's configuration depends only on (seed, n), never on results or on the order of asks. */
export class RandomSampler implements Sampler {
  readonly space: SearchSpace;
  readonly seed: number;

  constructor(options: RandomSamplerOptions) {
    deriveSeed(options.seed);
    this.space = options.space;
    this.seed = options.seed;
  }

  ask(trialNumber: number): TrialConfig {
    checkTrialNumber(trialNumber);
    return sampleConfig(this.space, createRng(deriveSeed(this.seed, trialNumber)));
  }

  /** Random search ignores results; this only checks the observation fits the space. */
  tell(observation: Observation): void {
    normaliseObservation(this.space, observation);
  }

  toJSON(): RandomSamplerState {
    return { kind: 'random', version: 1, space: spaceDefinition(this.space), seed: this.seed };
  }

  static fromJSON(state: unknown): RandomSampler {
    const s = expectRecord(state, 'random sampler state');
    expectKind(s, 'random', 1, 'random sampler state');
    return new RandomSampler({ space: parseSearchSpace(s['space'], 'random sampler state.space'), seed: expectNumber(s['seed'], 'random sampler state.seed') });
  }
}
