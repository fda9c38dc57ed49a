/**
 * How a sweep runs each trial rung's training (`sweep.trialExecution`): as an activity the
 * Temporal server dispatches to any GPU worker, which heartbeats (right for rungs of any
 * length), or as a local activity of the trial's workflow task (a server round trip and a
 * workflow task less per rung, about 100 ms: what matters when rungs take seconds).
 *
 * 'auto' (the default) decides per rung from the rungs this sweep has finished: activities
 * until AUTO_MIN_RUNGS have finished, then local activities while every one of the last
 * AUTO_WINDOW finished rungs took at most AUTO_LOCAL_MAX_SECONDS from start to result, and
 * activities again as soon as one took longer. Pure: the sweep workflow calls it with rung
 * times read from its own clock, so a replay decides the same.
 */
export type RungExecutionSetting = 'auto' | 'activity' | 'local-activity';
export type RungExecution = 'activity' | 'local-activity';

/** Finished rungs 'auto' waits for before it runs any rung locally. */
export const AUTO_MIN_RUNGS = 4;
/** How many of the latest finished rungs 'auto' looks at. */
export const AUTO_WINDOW = 8;
/** The longest rung (start to result, seconds) that still lets 'auto' run rungs locally. */
export const AUTO_LOCAL_MAX_SECONDS = 60;

export function chooseRungExecution(setting: RungExecutionSetting, recentRungSeconds: readonly number[]): RungExecution {
  if (setting !== 'auto') return setting;
  const recent = recentRungSeconds.slice(-AUTO_WINDOW);
  if (recent.length < AUTO_MIN_RUNGS) return 'activity';
  return recent.every((s) => s <= AUTO_LOCAL_MAX_SECONDS) ? 'local-activity' : 'activity';
}

/** `recent` with one more finished rung's seconds, keeping the last AUTO_WINDOW. */
export function recordRungSeconds(recent: readonly number[], seconds: number): number[] {
  return [...recent, seconds].slice(-AUTO_WINDOW);
}
