/**
 * Reading back serialised sampler and scheduler state. State comes from workflow history or a
 * continue-as-new argument, possibly written by an older version, so it is checked, not trusted.
 */

export function expectRecord(value: unknown, at: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`${at} must be an object, got ${value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value}`);
  }
  return value as Record<string, unknown>;
}

/** Checks `kind` and `version`, so state from another strategy or a newer format is refused by name. */
export function expectKind(state: Record<string, unknown>, kind: string, version: number, at: string): void {
  if (state['kind'] !== kind) throw new RangeError(`${at}.kind must be "${kind}", got ${JSON.stringify(state['kind'])}`);
  if (state['version'] !== version) {
    throw new RangeError(`${at}.version ${JSON.stringify(state['version'])} is not supported by this ${kind} (expected ${version})`);
  }
}

export function expectNumber(value: unknown, at: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) throw new TypeError(`${at} must be a finite number, got ${JSON.stringify(value)}`);
  return value;
}

export function expectArray(value: unknown, at: string): unknown[] {
  if (!Array.isArray(value)) throw new TypeError(`${at} must be a list, got ${JSON.stringify(value)}`);
  return value;
}

export function expectOneOf<T extends string>(value: unknown, allowed: readonly T[], at: string): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new RangeError(`${at} must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}
