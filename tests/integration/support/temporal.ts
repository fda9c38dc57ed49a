import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Runtime, DefaultLogger, type Worker } from '@temporalio/worker';
import { temporalCliPath } from '../../../infra/tools.js';

let runtimeInstalled = false;

/** A real Temporal dev server (the Temporal CLI installed by `npm run tools`), per test file. */
export async function startTemporal(options: { dbFilename?: string; port?: number } = {}): Promise<TestWorkflowEnvironment> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    runtimeInstalled = true;
  }
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: temporalCliPath() },
      dbFilename: options.dbFilename,
      port: options.port,
    },
  });
}

/** Runs workers until `fn` settles, then shuts them down and waits for them. */
export async function withWorkers<T>(workers: Worker[], fn: () => Promise<T>): Promise<T> {
  const work = fn();
  await Promise.all(workers.map((w) => w.runUntil(work.catch(() => undefined))));
  return work;
}
