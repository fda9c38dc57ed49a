/**
 * Validates a search space as it comes from YAML or JSON config. Errors name the path, the
 * parameter and the bad value, because the user fixes them by editing that line of the file.
 */
import type { ChoiceParam, Condition, ParamSpec, ParamValue, SearchSpace } from './search-space.js';

/** Letters first, so no name looks like an array index (JS objects reorder such keys). */
const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

const ALLOWED_KEYS: Record<ParamSpec['type'], readonly string[]> = {
  uniform: ['type', 'low', 'high', 'when'],
  'log-uniform': ['type', 'low', 'high', 'when'],
  int: ['type', 'low', 'high', 'log', 'when'],
  choice: ['type', 'values', 'when'],
};

/**
 * Parses `{ name: { type, ... } }` into a `SearchSpace` whose parameters are ordered so that each
 * follows the parameters its `when` condition tests (otherwise in the order written).
 * `path` prefixes error messages, e.g. `sweep.space`.
 */
export function parseSearchSpace(definition: unknown, path = 'space'): SearchSpace {
  if (!isPlainObject(definition)) {
    throw new TypeError(`${path} must be a mapping of parameter name to definition, got ${describe(definition)}`);
  }
  const entries = Object.entries(definition);
  if (entries.length === 0) throw new RangeError(`${path} must define at least one parameter`);
  const parsed = entries.map(([name, def]) => parseParam(name, def, `${path}.${name}`));
  const byName = new Map(parsed.map((p) => [p.name, p]));
  for (const param of parsed) checkCondition(param, byName, `${path}.${param.name}.when`);
  return { params: orderByDependency(parsed, path) };
}

function parseParam(name: string, def: unknown, at: string): ParamSpec {
  if (!NAME_PATTERN.test(name)) {
    throw new RangeError(`${at}: parameter name ${JSON.stringify(name)} must start with a letter or _ and hold only letters, digits, _ . -`);
  }
  if (!isPlainObject(def)) throw new TypeError(`${at} must be a mapping with a type, got ${describe(def)}`);
  const type = def['type'];
  if (type !== 'uniform' && type !== 'log-uniform' && type !== 'int' && type !== 'choice') {
    throw new RangeError(`${at}.type must be one of uniform, log-uniform, int, choice; got ${describe(type)}`);
  }
  const allowed = ALLOWED_KEYS[type];
  for (const key of Object.keys(def)) {
    if (!allowed.includes(key)) throw new RangeError(`${at} has unknown key "${key}" for type ${type} (allowed: ${allowed.join(', ')})`);
  }
  const when = def['when'] === undefined ? {} : { when: parseWhen(def['when'], `${at}.when`) };
  if (type === 'choice') return { name, type, values: parseValues(def['values'], `${at}.values`), ...when };

  const low = finiteNumber(def['low'], `${at}.low`);
  const high = finiteNumber(def['high'], `${at}.high`);
  if (type === 'int') {
    if (!Number.isSafeInteger(low)) throw new RangeError(`${at}.low must be an integer for type int, got ${low}`);
    if (!Number.isSafeInteger(high)) throw new RangeError(`${at}.high must be an integer for type int, got ${high}`);
    if (low > high) throw new RangeError(`${at}: low (${low}) must be <= high (${high})`);
    const log = def['log'] ?? false;
    if (typeof log !== 'boolean') throw new TypeError(`${at}.log must be true or false, got ${describe(log)}`);
    if (log && low < 1) throw new RangeError(`${at}.low must be >= 1 for a log-scaled int, got ${low}`);
    return { name, type, low, high, log, ...when };
  }
  if (low >= high) throw new RangeError(`${at}: low (${low}) must be < high (${high})`);
  if (type === 'log-uniform' && low <= 0) throw new RangeError(`${at}.low must be > 0 for log-uniform, got ${low}`);
  return { name, type, low, high, ...when };
}

function parseValues(values: unknown, at: string): ParamValue[] {
  if (!Array.isArray(values) || values.length === 0) throw new RangeError(`${at} must be a non-empty list, got ${describe(values)}`);
  const seen = new Set<ParamValue>();
  return values.map((v: unknown, i) => {
    if (!isParamValue(v)) throw new TypeError(`${at}[${i}] must be a string, finite number or boolean, got ${describe(v)}`);
    if (seen.has(v)) throw new RangeError(`${at} lists ${JSON.stringify(v)} more than once`);
    seen.add(v);
    return v;
  });
}

function parseWhen(when: unknown, at: string): Condition {
  if (!isPlainObject(when) || Object.keys(when).length === 0) {
    throw new TypeError(`${at} must map a choice parameter to a value or list of values, got ${describe(when)}`);
  }
  const out: Condition = {};
  for (const [parent, allowed] of Object.entries(when)) {
    out[parent] = Array.isArray(allowed) ? parseValues(allowed, `${at}.${parent}`) : parseValues([allowed], `${at}.${parent}`);
  }
  return out;
}

function checkCondition(param: ParamSpec, byName: ReadonlyMap<string, ParamSpec>, at: string): void {
  for (const [parentName, allowed] of Object.entries(param.when ?? {})) {
    if (parentName === param.name) throw new RangeError(`${at}: ${param.name} cannot depend on itself`);
    const parent = byName.get(parentName);
    if (parent === undefined) {
      throw new RangeError(`${at} refers to "${parentName}", which is not a parameter (parameters: ${[...byName.keys()].join(', ')})`);
    }
    if (parent.type !== 'choice') {
      throw new RangeError(`${at}.${parentName}: conditions may only test choice parameters, but ${parentName} is ${parent.type}`);
    }
    for (const value of allowed) {
      if (!(parent as ChoiceParam).values.includes(value)) {
        throw new RangeError(
          `${at}.${parentName}: ${JSON.stringify(value)} is not one of the values of ${parentName} (${parent.values.map((v) => JSON.stringify(v)).join(', ')})`,
        );
      }
    }
  }
}

/** Stable topological order: repeatedly take the first parameter written whose parents are placed. */
function orderByDependency(params: ParamSpec[], path: string): ParamSpec[] {
  const placed = new Set<string>();
  const remaining = [...params];
  const out: ParamSpec[] = [];
  while (remaining.length > 0) {
    const index = remaining.findIndex((p) => Object.keys(p.when ?? {}).every((parent) => placed.has(parent)));
    if (index < 0) throw new RangeError(`${path}: conditions form a cycle among ${remaining.map((p) => p.name).join(', ')}`);
    const [next] = remaining.splice(index, 1) as [ParamSpec];
    placed.add(next.name);
    out.push(next);
  }
  return out;
}

function finiteNumber(value: unknown, at: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`${at} must be a finite number, got ${describe(value)}`);
  return value;
}

function isParamValue(value: unknown): value is ParamValue {
  return typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return value.length === 0 ? 'an empty list' : `a list ${JSON.stringify(value)}`;
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'object' && value !== null) return `a mapping ${JSON.stringify(value)}`;
  return String(value);
}
