/**
 * Where a trial workflow's time goes, from its own event history (server timestamps): workflow
 * tasks waiting for a worker and running, activities waiting for a worker and running (less the
 * training), and what lies between (start and close bookkeeping). A rung run as a local activity
 * trains inside a workflow task, so there the training is taken off the workflow task's time.
 */
import type { Client } from '@temporalio/client';
import { mean } from './bench-temporal.js';

/** A protobuf timestamp as ms since the epoch. */
function ms(ts: { seconds?: number | { toNumber(): number } | null; nanos?: number | null } | null | undefined): number {
  const seconds = ts?.seconds;
  return (typeof seconds === 'number' ? seconds : (seconds?.toNumber() ?? 0)) * 1000 + (ts?.nanos ?? 0) / 1e6;
}

/** Phase name -> ms. */
export type TrialPhases = Record<string, number>;

export const TRIAL_PHASE_NAMES = [
  'workflow tasks waiting for a worker',
  'workflow tasks running (less the training, for a local activity)',
  'activities waiting for a worker',
  'activities running, less the training',
  'the rest (start to first task, last task to close)',
] as const;

/** The phases of one trial-rung workflow; `trainingMs` is the training time measured inside its activity. */
export async function trialPhases(client: Client, workflowId: string, trainingMs: number): Promise<TrialPhases> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const wtScheduled = new Map<number, number>();
  const wtStarted = new Map<number, number>();
  const actScheduled = new Map<number, number>();
  let start = 0;
  let close = 0;
  let wtWait = 0;
  let wtRun = 0;
  let actWait = 0;
  let actRun = 0;
  let localActivities = 0;
  let remoteActivities = 0;
  for (const event of history.events ?? []) {
    const time = ms(event.eventTime);
    const id = Number(event.eventId);
    if (event.workflowExecutionStartedEventAttributes) start = time;
    else if (event.workflowExecutionCompletedEventAttributes) close = time;
    else if (event.workflowTaskScheduledEventAttributes) wtScheduled.set(id, time);
    else if (event.workflowTaskStartedEventAttributes) {
      wtStarted.set(id, time);
      wtWait += time - (wtScheduled.get(Number(event.workflowTaskStartedEventAttributes.scheduledEventId)) ?? time);
    } else if (event.workflowTaskCompletedEventAttributes) {
      wtRun += time - (wtStarted.get(Number(event.workflowTaskCompletedEventAttributes.startedEventId)) ?? time);
    } else if (event.markerRecordedEventAttributes?.markerName === 'core_local_activity') localActivities++;
    else if (event.activityTaskScheduledEventAttributes) {
      actScheduled.set(id, time);
      remoteActivities++;
    } else if (event.activityTaskStartedEventAttributes) {
      // The started event is written when the attempt ends, with the time the worker took the task.
      actWait += time - (actScheduled.get(Number(event.activityTaskStartedEventAttributes.scheduledEventId)) ?? time);
      actRun -= time;
    } else if (event.activityTaskCompletedEventAttributes) actRun += time;
  }
  if (start === 0 || close === 0) throw new Error(`${workflowId}: no start or close event in its history`);
  if (localActivities + remoteActivities === 0) throw new Error(`${workflowId}: no activity in its history`);
  if (localActivities > 0) wtRun -= trainingMs;
  else actRun -= trainingMs;
  const total = close - start - trainingMs;
  const values = [wtWait, wtRun, actWait, actRun, total - wtWait - wtRun - actWait - actRun];
  return Object.fromEntries(TRIAL_PHASE_NAMES.map((name, i) => [name, values[i] as number]));
}

/** Mean of each phase over several trials, one line each. */
export function phaseLines(all: TrialPhases[]): string[] {
  return TRIAL_PHASE_NAMES.map((name) => `    ${name}: ${mean(all.map((p) => p[name] as number)).toFixed(1)} ms`);
}
