/** Timeouts and retry policies, named once and used by every workflow. */
import type { ActivityOptions } from '@temporalio/workflow';
import { CPU_QUEUE, GPU_QUEUE } from '../core/task-queues.js';

// Error names (the class's `name`) that a retry cannot fix: bad input or bad config.
const NON_RETRYABLE = ['ConfigError', 'DatasetError', 'SourceError', 'ImageDecodeError', 'ShardIntegrityError'];

/** Data preparation: long, restartable (finished shards are reused), heartbeats per chunk. */
export const DATA_ACTIVITY: ActivityOptions = {
  taskQueue: CPU_QUEUE,
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
};

/** Short CPU work: model planning, evaluation, reports. */
export const CPU_ACTIVITY: ActivityOptions = {
  taskQueue: CPU_QUEUE,
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
};

/**
 * Training: heartbeats every epoch and every few batches; an attempt that goes quiet (a worker
 * crash) is retried elsewhere and resumes from the last checkpoint. The heartbeat timeout is
 * set per run from the training config.
 */
export function trainingActivity(heartbeatTimeoutSeconds: number): ActivityOptions {
  return {
    taskQueue: GPU_QUEUE,
    startToCloseTimeout: '24 hours',
    heartbeatTimeout: `${heartbeatTimeoutSeconds} seconds`,
    cancellationType: 'WAIT_CANCELLATION_COMPLETED',
    retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 10, nonRetryableErrorTypes: [...NON_RETRYABLE, 'TrainingDivergedError'] },
  };
}

/** Inference benchmarks run where models are deployed-like: the GPU queue. */
export const BENCHMARK_ACTIVITY: ActivityOptions = {
  taskQueue: GPU_QUEUE,
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 5, nonRetryableErrorTypes: NON_RETRYABLE },
};
