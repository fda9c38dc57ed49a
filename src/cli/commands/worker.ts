import { NativeConnection } from '@temporalio/worker';
import { TASK_QUEUES, type TaskQueue } from '../../core/task-queues.js';
import { createStderrLogger } from '../../activities/logger.js';
import { createWorkers, runWorkers } from '../../workers/create-workers.js';
import { parseEngineChoice } from '../../ml/torch-select.js';

export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

export function parseQueues(values: string[] | undefined): TaskQueue[] {
  if (!values || values.length === 0) return [...TASK_QUEUES];
  return values.map((v) => {
    if (!(TASK_QUEUES as readonly string[]).includes(v)) {
      throw new Error(`--queue must be one of ${TASK_QUEUES.join(', ')}, got "${v}"`);
    }
    return v as TaskQueue;
  });
}

/** `durable-vision worker`: serves the given queues of a Temporal cluster until stopped. */
export async function workerCommand(options: { queue?: string[]; engine?: string }): Promise<number> {
  const logger = createStderrLogger('worker');
  const queues = parseQueues(options.queue);
  const engine = options.engine === undefined ? undefined : parseEngineChoice(options.engine);
  const address = process.env.TEMPORAL_ADDRESS ?? DEFAULT_TEMPORAL_ADDRESS;
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  const connection = await NativeConnection.connect({ address }).catch((err: unknown) => {
    throw new Error(`cannot reach Temporal at ${address} (set TEMPORAL_ADDRESS, or start one with 'durable-vision dev'): ${String(err)}`);
  });
  const workers = await createWorkers({ connection, namespace, queues, logger, ...(engine !== undefined ? { engine } : {}) });
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  logger.info(`serving ${queues.join(', ')} on ${address} (namespace ${namespace}), training engine ${engine ?? "per run's training.engine"}; Ctrl-C stops`);
  try {
    await runWorkers(workers, stop.signal);
  } finally {
    await connection.close();
  }
  return 0;
}
