/**
 * What a search may vary: the parsed form of the `space` mapping users write in YAML config.
 * Pure data, JSON-serialisable, so it can travel in sampler state through workflow history.
 */

/** A value a parameter can take. Choice values may be strings, numbers or booleans. */
export type ParamValue = number | string | boolean;

/** One trial's parameters; a conditional parameter whose condition fails is absent. */
export type TrialConfig = Record<string, ParamValue>;

/** Parent parameter name -> values of the parent for which the parameter is active. All must hold. */
export type Condition = Record<string, ParamValue[]>;

interface ParamBase {
  name: string;
  /** Absent: always active. */
  when?: Condition;
}

/** Real number drawn uniformly from [low, high]. */
export interface UniformParam extends ParamBase {
  type: 'uniform';
  low: number;
  high: number;
}

/** Real number whose logarithm is uniform on [log low, log high]; low > 0. */
export interface LogUniformParam extends ParamBase {
  type: 'log-uniform';
  low: number;
  high: number;
}

/** Integer in [low, high], inclusive; with `log`, uniform in log space (low >= 1). */
export interface IntParam extends ParamBase {
  type: 'int';
  low: number;
  high: number;
  log: boolean;
}

/** One of a fixed list of values, unordered. */
export interface ChoiceParam extends ParamBase {
  type: 'choice';
  values: ParamValue[];
}

export type ParamSpec = UniformParam | LogUniformParam | IntParam | ChoiceParam;

export interface SearchSpace {
  /** Every parameter, each after the parameters its condition tests. */
  params: ParamSpec[];
}

/** A parameter as written in config: the spec without its name, which is the mapping key. */
export type ParamDefinition =
  | { type: 'uniform' | 'log-uniform'; low: number; high: number; when?: Record<string, ParamValue | ParamValue[]> }
  | { type: 'int'; low: number; high: number; log?: boolean; when?: Record<string, ParamValue | ParamValue[]> }
  | { type: 'choice'; values: ParamValue[]; when?: Record<string, ParamValue | ParamValue[]> };

/** The `space` mapping as written in config: parameter name -> definition. */
export type SearchSpaceDefinition = Record<string, ParamDefinition>;

/** True when every parent named in the parameter's condition is present with an allowed value. */
export function isActive(param: ParamSpec, config: Readonly<TrialConfig>): boolean {
  if (param.when === undefined) return true;
  for (const [parent, allowed] of Object.entries(param.when)) {
    const value = config[parent];
    if (value === undefined || !allowed.includes(value)) return false;
  }
  return true;
}

/** The config form of a parsed space, for serialised state; parsing it again gives the same space. */
export function spaceDefinition(space: SearchSpace): SearchSpaceDefinition {
  const out: SearchSpaceDefinition = {};
  for (const param of space.params) {
    const when = param.when === undefined ? {} : { when: structuredCopy(param.when) };
    if (param.type === 'choice') out[param.name] = { type: 'choice', values: [...param.values], ...when };
    else if (param.type === 'int') out[param.name] = { type: 'int', low: param.low, high: param.high, log: param.log, ...when };
    else out[param.name] = { type: param.type, low: param.low, high: param.high, ...when };
  }
  return out;
}

function structuredCopy(condition: Condition): Condition {
  return Object.fromEntries(Object.entries(condition).map(([k, v]) => [k, [...v]]));
}
