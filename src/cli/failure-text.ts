import { ApplicationFailure, TemporalFailure } from '@temporalio/common';

/** The innermost failure message, which is the one a user can act on. */
export function describeFailure(err: unknown): string {
  let current: unknown = err;
  let message = err instanceof Error ? err.message : String(err);
  while (current instanceof Error) {
    if (current instanceof TemporalFailure || current instanceof ApplicationFailure) message = current.message || message;
    current = current.cause;
  }
  return message;
}
