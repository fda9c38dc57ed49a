/**
 * Where a trial workflow's time goes, from its own event history (server timestamps): the
 * workflow tasks between steps, the wait of each activity for a worker, and each activity's run.
 */
import type { Client } from '@temporalio/client';
import { mean } from './bench-temporal.js';

/** A protobuf timestamp as ms since the epoch. */
function ms(ts: { seconds?: number | { toNumber(): number } | null; nanos?: number | null } | null | undefined): number {
  const seconds = ts?.seconds;
  return (typeof seconds === 'number' ? seconds : (seconds?.toNumber() ?? 0)) * 1000 + (ts?.nanos ?? 0) / 1e6;
}

/** Phase name -> ms, in the order a trial goes through them. */
export type TrialPhases = Record<string, number>;

export const TRIAL_PHASE_NAMES = [
  'start -> selectModel scheduled (workflow task)',
  'selectModel waiting for a cpu worker',
  'selectModel running',
  'selectModel done -> trainModel scheduled (workflow task)',
  'trainModel waiting for a gpu worker',
  'trainModel running, minus the training',
  'trainModel done -> trial closed (workflow task)',
] as const;

/** The phases of one trial-rung workflow; `trainingMs` is the training time measured inside its trainModel. */
export async function trialPhases(client: Client, workflowId: string, trainingMs: number): Promise<TrialPhases> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const at: Record<string, number> = {};
  const scheduled = new Map<number, string>();
  for (const event of history.events ?? []) {
    const time = ms(event.eventTime);
    const id = Number(event.eventId);
    if (event.workflowExecutionStartedEventAttributes) at['start'] = time;
    else if (event.activityTaskScheduledEventAttributes) {
      const name = event.activityTaskScheduledEventAttributes.activityType?.name ?? '?';
      scheduled.set(id, name);
      at[`${name} scheduled`] = time;
    } else if (event.activityTaskStartedEventAttributes) {
      at[`${scheduled.get(Number(event.activityTaskStartedEventAttributes.scheduledEventId)) ?? '?'} started`] = time;
    } else if (event.activityTaskCompletedEventAttributes) {
      at[`${scheduled.get(Number(event.activityTaskCompletedEventAttributes.scheduledEventId)) ?? '?'} completed`] = time;
    } else if (event.workflowExecutionCompletedEventAttributes) at['closed'] = time;
  }
  const span = (from: string, to: string): number => {
    const a = at[from];
    const b = at[to];
    if (a === undefined || b === undefined) throw new Error(`${workflowId}: no ${a === undefined ? from : to} event in its history`);
    return b - a;
  };
  const values = [
    span('start', 'selectModel scheduled'),
    span('selectModel scheduled', 'selectModel started'),
    span('selectModel started', 'selectModel completed'),
    span('selectModel completed', 'trainModel scheduled'),
    span('trainModel scheduled', 'trainModel started'),
    span('trainModel started', 'trainModel completed') - trainingMs,
    span('trainModel completed', 'closed'),
  ];
  return Object.fromEntries(TRIAL_PHASE_NAMES.map((name, i) => [name, values[i] as number]));
}

/** Mean of each phase over several trials, one line each. */
export function phaseLines(all: TrialPhases[]): string[] {
  return TRIAL_PHASE_NAMES.map((name) => `    ${name}: ${mean(all.map((p) => p[name] as number)).toFixed(1)} ms`);
}
