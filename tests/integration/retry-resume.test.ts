import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { silentLogger } from '../../src/activities/logger.js';
import { CPU_QUEUE, GPU_QUEUE } from '../../src/core/task-queues.js';
import { createWorkers, workflowBundle } from '../../src/workers/create-workers.js';
import { progressQuery, trainingPipelineWorkflow } from '../../src/workflows/pipeline-workflow.js';
import { startCli, waitFor, type CliProcess } from './support/cli-process.js';
import { startTemporal, withWorkers } from './support/temporal.js';
import { tinyConfig } from './support/tiny-config.js';

let env: TestWorkflowEnvironment;
let dir: string;
const gpuWorkers: CliProcess[] = [];

beforeAll(async () => {
  env = await startTemporal();
  dir = await mkdtemp(join(tmpdir(), 'dv-resume-'));
});
afterAll(async () => {
  for (const w of gpuWorkers) w.child.kill('SIGKILL');
  await env?.teardown();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('a training worker killed with SIGKILL is replaced and training resumes from the last checkpoint', async () => {
  const epochs = 5;
  const config = tinyConfig({ epochs, train: 3000, test: 300, heartbeatTimeoutSeconds: 5 });
  const runId = 'resume-run';
  const storeUri = `file://${dir}/artifacts`;
  const gpuWorker = () => {
    const w = startCli(['worker', '--queue', GPU_QUEUE], { TEMPORAL_ADDRESS: env.address });
    gpuWorkers.push(w);
    return w;
  };
  const cpuWorkers = await createWorkers({ connection: env.nativeConnection, queues: [CPU_QUEUE], logger: silentLogger, workflowBundle: await workflowBundle() });

  await withWorkers(cpuWorkers, async () => {
    const handle = await env.client.workflow.start(trainingPipelineWorkflow, { taskQueue: CPU_QUEUE, workflowId: runId, args: [{ runId, storeUri, config }] });
    const first = gpuWorker();
    const killedAfter = await waitFor('the first finished epoch', async () => {
      const p = await handle.query(progressQuery);
      return p.epoch >= 1 ? p.epoch : undefined;
    }, 120_000);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(killedAfter).toBeLessThan(epochs);

    const second = gpuWorker();
    const result = await handle.result();
    const t = result.training;
    // The retried attempt started from a checkpoint, not from scratch...
    expect(t.attempts).toBeGreaterThanOrEqual(2);
    expect(t.resumedFromEpoch).toBeGreaterThanOrEqual(killedAfter);
    expect(t.resumedFromEpoch).toBeLessThan(epochs);
    expect(second.output()).toContain(`training resumes from epoch ${t.resumedFromEpoch}`);
    // ...and the epoch counter continued: every epoch exactly once, in order.
    expect(t.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4, 5]);
    expect(t.checkpointUris).toHaveLength(epochs);
    expect(result.evaluation.accuracy).toBeGreaterThan(0.8);

    const progress = await handle.query(progressQuery);
    expect(progress.trainingAttempt).toBe(t.attempts);
    second.child.kill('SIGTERM');
    await second.exited;
  });
}, 300_000);
