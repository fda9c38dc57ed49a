/** Exhaustive search over a grid of the space, in a fixed order. */
import { expectKind, expectNumber, expectRecord } from './json-state.js';
import { parseSearchSpace } from './parse-search-space.js';
import { checkTrialNumber, normaliseObservation, type Observation, type Sampler } from './sampler.js';
import { isActive, spaceDefinition, type ParamSpec, type ParamValue, type SearchSpace, type SearchSpaceDefinition, type TrialConfig } from './search-space.js';

export interface GridSamplerOptions {
  space: SearchSpace;
  /**
   * Points per continuous axis, evenly spaced with both ends included (in log space for
   * log-uniform). Ints with at most this many values use them all; wider ints get this many
   * evenly spaced values, rounded. Defaults to 5.
   */
  points?: number;
}

export interface GridSamplerState {
  kind: 'grid';
  version: 1;
  space: SearchSpaceDefinition;
  points: number;
}

/** Grids beyond this are a configuration mistake: a sweep would never finish them. */
const MAX_GRID_SIZE = 100_000;
const DEFAULT_POINTS = 5;

/**
 * Trial n gets grid point n; the first parameter varies slowest and the last fastest, as in
 * nested loops written in the space's order. A conditional parameter multiplies only the
 * branches where it is active, so no configuration repeats.
 */
export class GridSampler implements Sampler {
  readonly space: SearchSpace;
  readonly points: number;
  /** Number of grid points; `ask(n)` is undefined for n >= size. */
  readonly size: number;
  private readonly grid: readonly TrialConfig[];

  constructor(options: GridSamplerOptions) {
    const points = options.points ?? DEFAULT_POINTS;
    if (!Number.isInteger(points) || points < 1) throw new RangeError(`grid points must be an integer >= 1, got ${String(points)}`);
    this.space = options.space;
    this.points = points;
    this.grid = enumerate(options.space, points);
    this.size = this.grid.length;
  }

  ask(trialNumber: number): TrialConfig | undefined {
    checkTrialNumber(trialNumber);
    const config = this.grid[trialNumber];
    return config === undefined ? undefined : { ...config };
  }

  /** A grid ignores results; this only checks the observation fits the space. */
  tell(observation: Observation): void {
    normaliseObservation(this.space, observation);
  }

  toJSON(): GridSamplerState {
    return { kind: 'grid', version: 1, space: spaceDefinition(this.space), points: this.points };
  }

  static fromJSON(state: unknown): GridSampler {
    const s = expectRecord(state, 'grid sampler state');
    expectKind(s, 'grid', 1, 'grid sampler state');
    return new GridSampler({ space: parseSearchSpace(s['space'], 'grid sampler state.space'), points: expectNumber(s['points'], 'grid sampler state.points') });
  }
}

/** The values one parameter takes on the grid, in increasing order (choices as written). */
export function gridValues(param: ParamSpec, points: number): ParamValue[] {
  switch (param.type) {
    case 'choice':
      return [...param.values];
    case 'uniform':
      return spaced(param.low, param.high, points, (x) => x, (x) => x);
    case 'log-uniform':
      return spaced(param.low, param.high, points, Math.log, Math.exp);
    case 'int': {
      if (param.high - param.low + 1 <= points) return Array.from({ length: param.high - param.low + 1 }, (_, i) => param.low + i);
      const raw = param.log ? spaced(param.low, param.high, points, Math.log, Math.exp) : spaced(param.low, param.high, points, (x) => x, (x) => x);
      return [...new Set(raw.map((x) => Math.min(param.high, Math.max(param.low, Math.round(x)))))];
    }
  }
}

/** `points` values from low to high, evenly spaced after `to`; the ends are exact. */
function spaced(low: number, high: number, points: number, to: (x: number) => number, from: (x: number) => number): number[] {
  if (points === 1) return [from((to(low) + to(high)) / 2)];
  const a = to(low);
  const b = to(high);
  return Array.from({ length: points }, (_, i) => (i === 0 ? low : i === points - 1 ? high : from(a + ((b - a) * i) / (points - 1))));
}

function enumerate(space: SearchSpace, points: number): TrialConfig[] {
  let configs: TrialConfig[] = [{}];
  for (const param of space.params) {
    const values = gridValues(param, points);
    const next: TrialConfig[] = [];
    for (const config of configs) {
      if (!isActive(param, config)) {
        next.push(config);
        continue;
      }
      for (const value of values) next.push({ ...config, [param.name]: value });
      if (next.length > MAX_GRID_SIZE) {
        throw new RangeError(`grid has more than ${MAX_GRID_SIZE} points by parameter ${param.name} (${values.length} values); lower points or use random or tpe`);
      }
    }
    configs = next;
  }
  return configs;
}
