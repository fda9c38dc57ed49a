import { Context } from '@temporalio/activity';

/**
 * Runs `work` while heartbeating every few seconds, for steps (listing a large S3 prefix) whose
 * own progress points are far apart. A crashed worker stops the timer with everything else, so
 * the server still notices it within the heartbeat timeout.
 */
export async function withKeepAlive<T>(stage: string, work: () => Promise<T>, everyMs = 3000): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat({ stage }), everyMs);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
