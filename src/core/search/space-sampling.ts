/** Drawing configurations from a search space's prior, and checking configurations users supply. */
import type { Rng } from '../rng.js';
import { isActive, type ParamSpec, type ParamValue, type SearchSpace, type TrialConfig } from './search-space.js';

/** One draw from the parameter's prior (uniform in its own scale). */
export function sampleParam(param: ParamSpec, rng: Rng): ParamValue {
  const u = rng.next();
  switch (param.type) {
    case 'uniform':
      return param.low + u * (param.high - param.low);
    case 'log-uniform':
      return clamp(Math.exp(Math.log(param.low) + u * (Math.log(param.high) - Math.log(param.low))), param.low, param.high);
    case 'int':
      if (!param.log) return Math.min(param.high, param.low + Math.floor(u * (param.high - param.low + 1)));
      // Widening by half a step each side gives the end values their fair share after rounding.
      return clamp(Math.round(Math.exp(Math.log(param.low - 0.5) + u * (Math.log(param.high + 0.5) - Math.log(param.low - 0.5)))), param.low, param.high);
    case 'choice':
      return param.values[Math.min(param.values.length - 1, Math.floor(u * param.values.length))] as ParamValue;
  }
}

/** A whole configuration from the prior: parameters in dependency order, inactive ones left out. */
export function sampleConfig(space: SearchSpace, rng: Rng): TrialConfig {
  const config: TrialConfig = {};
  for (const param of space.params) {
    if (isActive(param, config)) config[param.name] = sampleParam(param, rng);
  }
  return config;
}

/**
 * Checks a configuration a user supplies (e.g. one enqueued into a running sweep) against the
 * space and returns it with keys in the space's order. Throws naming the parameter and value.
 */
export function checkConfig(space: SearchSpace, config: Readonly<Record<string, unknown>>, path = 'config'): TrialConfig {
  const known = new Set(space.params.map((p) => p.name));
  for (const key of Object.keys(config)) {
    if (!known.has(key)) throw new RangeError(`${path}.${key} is not a parameter of the search space (parameters: ${[...known].join(', ')})`);
  }
  const out: TrialConfig = {};
  for (const param of space.params) {
    const value = config[param.name];
    if (!isActive(param, out)) {
      if (value !== undefined) throw new RangeError(`${path}.${param.name} is set to ${JSON.stringify(value)} but is inactive: its condition ${JSON.stringify(param.when)} does not hold`);
      continue;
    }
    if (value === undefined) throw new RangeError(`${path}.${param.name} is missing; it is active in this configuration`);
    out[param.name] = checkValue(param, value, `${path}.${param.name}`);
  }
  return out;
}

function checkValue(param: ParamSpec, value: unknown, at: string): ParamValue {
  if (param.type === 'choice') {
    if ((typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') && param.values.includes(value)) return value;
    throw new RangeError(`${at} is ${JSON.stringify(value)}, expected one of ${param.values.map((v) => JSON.stringify(v)).join(', ')}`);
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`${at} must be a finite number, got ${JSON.stringify(value)}`);
  if (param.type === 'int' && !Number.isInteger(value)) throw new RangeError(`${at} must be an integer, got ${value}`);
  if (value < param.low || value > param.high) throw new RangeError(`${at} is ${value}, outside [${param.low}, ${param.high}]`);
  return value;
}

export function clamp(x: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, x));
}
