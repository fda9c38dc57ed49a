export type {
  ChoiceParam,
  Condition,
  IntParam,
  LogUniformParam,
  ParamDefinition,
  ParamSpec,
  ParamValue,
  SearchSpace,
  SearchSpaceDefinition,
  TrialConfig,
  UniformParam,
} from './search-space.js';
export { isActive, spaceDefinition } from './search-space.js';
export { parseSearchSpace } from './parse-search-space.js';
export { checkConfig, sampleConfig, sampleParam } from './space-sampling.js';
export { deriveSeed } from './derive-seed.js';
export type { Observation, Sampler, SamplerState, SearchMode } from './sampler.js';
export { GridSampler, gridValues } from './grid-sampler.js';
export type { GridSamplerOptions, GridSamplerState } from './grid-sampler.js';
export { RandomSampler } from './random-sampler.js';
export type { RandomSamplerOptions, RandomSamplerState } from './random-sampler.js';
export { TpeSampler } from './tpe-sampler.js';
export type { TpeSamplerOptions, TpeSamplerState } from './tpe-sampler.js';
export { restoreSampler } from './restore-sampler.js';
export type { SchedulerDecision, SchedulerState, TrialReport, TrialScheduler } from './trial-scheduler.js';
export { AshaScheduler } from './asha-scheduler.js';
export type { AshaRung, AshaSchedulerOptions, AshaSchedulerState } from './asha-scheduler.js';
export { MedianStoppingScheduler } from './median-stopping-scheduler.js';
export type { MedianStoppingSchedulerOptions, MedianStoppingSchedulerState, MedianTrialHistory } from './median-stopping-scheduler.js';
export { restoreScheduler } from './restore-scheduler.js';
