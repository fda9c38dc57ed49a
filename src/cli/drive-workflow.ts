import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import type { Logger } from '../activities/logger.js';
import { TASK_QUEUES } from '../core/task-queues.js';
import { createWorkers, runWorkers } from '../workers/create-workers.js';
import { describeFailure } from './failure-text.js';
import { openTemporalSession, type TemporalSession } from './temporal-session.js';

export interface DriveWorkflowOptions<W extends Workflow> {
  logger: Logger;
  /** What the messages call it, e.g. `run run-2026…` or `sweep sweep-2026…`. */
  label: string;
  /** The workflow id, which is also how an existing execution is re-attached to. */
  workflowId: string;
  /** Printed after "stopping" when Ctrl-C ends this process: how to follow the workflow again. */
  resumeHint: string;
  /** Serve every queue from this process. False relies on remote workers. */
  embeddedWorkers: boolean;
  /** Starts the workflow; a WorkflowExecutionAlreadyStartedError re-attaches to it instead. */
  start: (session: TemporalSession) => Promise<WorkflowHandle<W>>;
  /** Shows progress until `signal` aborts. */
  follow: (handle: WorkflowHandle<W>, signal: AbortSignal) => Promise<void>;
  /** Shows the result. */
  finish: (result: Awaited<ReturnType<W>>) => void;
  /** Printed after the label when the workflow starts (e.g. the store). */
  startedDetail?: string;
}

/**
 * Runs a workflow from the command line: opens the Temporal session (the embedded dev server
 * unless TEMPORAL_ADDRESS is set), serves the queues from this process unless told not to,
 * starts the workflow or re-attaches to it, follows its progress, and prints its result.
 * Ctrl-C ends this process only: the workflow is kept by Temporal. Exit codes: 0 finished,
 * 1 the workflow failed (its reason printed), 130 interrupted.
 */
export async function driveWorkflow<W extends Workflow>(options: DriveWorkflowOptions<W>): Promise<number> {
  const { logger, label } = options;
  const session = await openTemporalSession(logger);
  const stop = new AbortController();
  const onSignal = () => {
    process.stderr.write(`\nstopping; ${label} is kept by Temporal: ${options.resumeHint}\n`);
    stop.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let workersDone: Promise<void> | undefined;
  try {
    if (options.embeddedWorkers) {
      const workers = await createWorkers({ connection: await session.workerConnection(), namespace: session.namespace, queues: TASK_QUEUES, logger });
      workersDone = runWorkers(workers, stop.signal);
    }
    const handle = await options.start(session).catch((err: unknown) => {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      logger.info(`${label} already exists; following it`);
      return session.client.workflow.getHandle<W>(options.workflowId);
    });
    const watch = session.uiUrl ? `; watch it at ${session.uiUrl}/namespaces/${session.namespace}/workflows/${encodeURIComponent(options.workflowId)}` : '';
    process.stderr.write(`${label} started${options.startedDetail ? ` (${options.startedDetail})` : ''}${watch}\n`);
    const following = new AbortController();
    const follow = options.follow(handle, following.signal);
    let result: Awaited<ReturnType<W>>;
    try {
      result = await Promise.race([
        handle.result() as Promise<Awaited<ReturnType<W>>>,
        new Promise<never>((_, reject) => stop.signal.addEventListener('abort', () => reject(new Error('interrupted')), { once: true })),
      ]);
    } finally {
      following.abort();
      await follow;
    }
    options.finish(result);
    return 0;
  } catch (err) {
    if (stop.signal.aborted) return 130;
    if (err instanceof WorkflowFailedError) {
      process.stderr.write(`${label} failed: ${describeFailure(err)}\n`);
      return 1;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    stop.abort();
    await workersDone;
    await session.close();
  }
}
