import { createRequire } from 'node:module';
import { NativeConnection, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { bundleWorkflowCode } from '@temporalio/worker';
import { CPU_QUEUE, GPU_QUEUE, type TaskQueue } from '../core/task-queues.js';
import { createCpuActivities } from '../activities/cpu-activities.js';
import { createGpuActivities } from '../activities/gpu-activities.js';
import { createSweepActivities } from '../activities/sweep-activities.js';
import { createStoreCache } from '../activities/store-cache.js';
import { createTfjsEngine } from '../ml/tfjs-engine.js';
import { type EngineChoice, createEngineSelection } from '../ml/torch-select.js';
import type { TorchEngineOptions } from '../ml/torch-engine.js';
import type { Logger } from '../activities/logger.js';

const require = createRequire(import.meta.url);

/** Absolute path of the workflow entry point, for bundling. */
export const WORKFLOWS_PATH = require.resolve('../workflows/index.ts');

export interface WorkerOptions {
  connection: NativeConnection;
  namespace?: string;
  queues: readonly TaskQueue[];
  logger: Logger;
  /** A prebuilt bundle saves the few seconds of bundling when many workers start (tests). */
  workflowBundle?: WorkflowBundleOption;
  /**
   * The engine this worker trains with, overriding each run's training.engine ('auto': torch
   * when PyTorch sees a CUDA card, else tfjs). Unset = what the run's config says.
   */
  engine?: EngineChoice;
  /** Settings of the torch engine's child process (device, threads, bf16). */
  torch?: TorchEngineOptions;
  /** Concurrent activities per queue. Defaults: cpu 2, gpu 1 (one training run per device). */
  maxConcurrentActivities?: Partial<Record<TaskQueue, number>>;
}

let bundlePromise: Promise<WorkflowBundleOption> | undefined;

/** Bundles the workflow code once per process. */
export function workflowBundle(): Promise<WorkflowBundleOption> {
  bundlePromise ??= bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: quietBundlerLogger }).then((b) => ({ code: b.code }));
  return bundlePromise;
}

const noop = () => undefined;
const quietBundlerLogger = { trace: noop, debug: noop, info: noop, warn: noop, error: noop, log: noop };

/**
 * Builds one Worker per queue. The CPU worker hosts the pipeline and sweep workflows; the GPU
 * worker hosts training, benchmarking and the sweep trial workflows, so it can run on a
 * separate machine.
 */
export async function createWorkers(options: WorkerOptions): Promise<Worker[]> {
  const stores = createStoreCache();
  // Inference routes by the model bytes (tfjs or torch); training follows the run's config or this worker's --engine.
  const selection = createEngineSelection({ tfjs: createTfjsEngine(), override: options.engine, torch: options.torch, logger: options.logger });
  const engine = selection.engine;
  const bundle = options.workflowBundle ?? (await workflowBundle());
  const workers: Worker[] = [];
  for (const queue of new Set(options.queues)) {
    if (queue === CPU_QUEUE) {
      workers.push(
        await Worker.create({
          connection: options.connection,
          namespace: options.namespace ?? 'default',
          taskQueue: CPU_QUEUE,
          workflowBundle: bundle,
          activities: { ...createCpuActivities({ stores, engine, logger: options.logger }), ...createSweepActivities({ stores }) },
          maxConcurrentActivityTaskExecutions: options.maxConcurrentActivities?.[CPU_QUEUE] ?? 2,
        }),
      );
    } else if (queue === GPU_QUEUE) {
      // Trainings at once on this worker, dispatched or local.
      const trainings = options.maxConcurrentActivities?.[GPU_QUEUE] ?? 1;
      workers.push(
        await Worker.create({
          connection: options.connection,
          namespace: options.namespace ?? 'default',
          taskQueue: GPU_QUEUE,
          // Sweep trials are workflows on this queue, so they run where the training does.
          workflowBundle: bundle,
          activities: createGpuActivities({
            stores, engine, logger: options.logger, selectTrainingEngine: (configured) => selection.forTraining(configured), exportOnnx: (model, file) => selection.exportOnnx(model, file),
          }),
          maxConcurrentActivityTaskExecutions: trainings,
          // Sweep rungs run as local activities (sweep.trialExecution) train under the same limit,
          // inside their trial's workflow task; few task slots keep a worker that is training from
          // taking many more trials' tasks whose training would wait while other workers idle.
          maxConcurrentLocalActivityExecutions: trainings,
          maxConcurrentWorkflowTaskExecutions: 1 + trainings,
        }),
      );
    }
  }
  return workers;
}

/** Runs workers until `signal` aborts, then shuts them down gracefully. */
export async function runWorkers(workers: Worker[], signal?: AbortSignal): Promise<void> {
  const onAbort = () => workers.forEach((w) => w.shutdown());
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await Promise.all(workers.map((w) => w.run()));
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}
