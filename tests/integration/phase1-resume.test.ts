import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parsePipelineConfig } from '../../src/core/config.js';
import { CPU_QUEUE } from '../../src/core/task-queues.js';
import { datasetWorkflow, progressQuery } from '../../src/workflows/pipeline-workflow.js';
import { startCli, waitFor, type CliProcess } from './support/cli-process.js';
import { startTemporal } from './support/temporal.js';

let env: TestWorkflowEnvironment;
let dir: string;
const workers: CliProcess[] = [];

beforeAll(async () => {
  env = await startTemporal();
  dir = await mkdtemp(join(tmpdir(), 'dv-phase1-resume-'));
});
afterAll(async () => {
  for (const w of workers) w.child.kill('SIGKILL');
  await env?.teardown();
  if (dir) await rm(dir, { recursive: true, force: true });
});

it('a data worker killed with SIGKILL mid phase 1 is replaced, and only unfinished chunks are decoded again', async () => {
  const dataset = parsePipelineConfig({
    dataset: { limit: { train: 4000, test: 500 }, chunkSize: 300, parallelChunks: 1, heartbeatTimeoutSeconds: 3 },
  }).dataset;
  const runId = 'phase1-crash';
  const worker = () => {
    const w = startCli(['worker', '--queue', CPU_QUEUE], { TEMPORAL_ADDRESS: env.address });
    workers.push(w);
    return w;
  };
  const handle = await env.client.workflow.start(datasetWorkflow, { taskQueue: CPU_QUEUE, workflowId: runId, args: [{ runId, storeUri: `file://${dir}/artifacts`, dataset }] });
  const first = worker();
  const chunks = 15;
  const doneBeforeKill = await waitFor('three finished chunks', async () => {
    const p = await handle.query(progressQuery);
    return (p.prepare?.chunksDone ?? 0) >= 3 ? p.prepare!.chunksDone : undefined;
  }, 120_000);
  first.child.kill('SIGKILL');
  await first.exited;
  expect(doneBeforeKill).toBeLessThan(chunks);

  const second = worker();
  const manifest = await handle.result();
  expect(manifest.stats.accepted + manifest.stats.quarantined).toBe(4500);

  // Every chunk was scheduled once; only a chunk in flight at the kill needed a second attempt.
  const events = (await handle.fetchHistory()).events ?? [];
  const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'prepareChunk');
  expect(scheduled).toHaveLength(chunks);
  const scheduledIds = new Set(scheduled.map((e) => String(e.eventId)));
  const attempts = events
    .filter((e) => e.activityTaskStartedEventAttributes && scheduledIds.has(String(e.activityTaskStartedEventAttributes.scheduledEventId)))
    .map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 1);
  expect(attempts.filter((a) => a > 1).length).toBeLessThanOrEqual(1);
  const completed = events.filter((e) => e.activityTaskCompletedEventAttributes && scheduledIds.has(String(e.activityTaskCompletedEventAttributes.scheduledEventId)));
  expect(completed).toHaveLength(chunks);

  second.child.kill('SIGTERM');
  await second.exited;
}, 300_000);
