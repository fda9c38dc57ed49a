/**
 * The workflows the overhead benchmark's workers serve: every project workflow, plus a bare
 * fan-out that starts trial workflows with a concurrency limit and nothing else (no sampler,
 * scheduler or trial table, no continue-as-new): the reference cost of the same children.
 */
import { condition, executeChild } from '@temporalio/workflow';
import { GPU_QUEUE } from '../../src/core/task-queues.js';
import { trialWorkflow, type TrialRungInput } from '../../src/workflows/trial-workflow.js';

export * from '../../src/workflows/index.js';

export interface FanOutInput {
  /** Child workflow ids are `<prefix>/trial-<n>`. */
  prefix: string;
  children: number;
  concurrency: number;
  /** Every child's input but its number and run id. */
  child: Omit<TrialRungInput, 'trialNumber' | 'runId'>;
}

/** Returns the number of children that failed. */
export async function fanOutWorkflow(input: FanOutInput): Promise<number> {
  let failed = 0;
  let started = 0;
  let running = 0;
  let finished = 0;
  while (finished < input.children) {
    while (running < input.concurrency && started < input.children) {
      const id = `${input.prefix}/trial-${started}`;
      const child = executeChild(trialWorkflow, { taskQueue: GPU_QUEUE, workflowId: id, args: [{ ...input.child, trialNumber: started, runId: id }] });
      started++;
      running++;
      child
        .catch(() => failed++)
        .finally(() => {
          running--;
          finished++;
        });
    }
    await condition(() => (running < input.concurrency && started < input.children) || finished === input.children);
  }
  return failed;
}
