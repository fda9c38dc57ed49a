import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTemporalDevServer, type TemporalDevServer } from '../../infra/temporal-dev-server.js';
import { CPU_QUEUE } from '../../src/core/task-queues.js';
import type { LeaderboardRow } from '../../src/core/sweep-state.js';
import { leaderboardQuery, sweepStatusQuery, sweepWorkflow } from '../../src/workflows/sweep-workflow.js';
import { startCli, waitFor, type CliProcess } from './support/cli-process.js';
import { tinySweepConfig } from './support/sweep-config.js';

let dir: string;
let server: TemporalDevServer | undefined;
let connection: Connection | undefined;
const workers: CliProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dv-sweep-crash-'));
});
afterAll(async () => {
  for (const w of workers) w.child.kill('SIGKILL');
  await connection?.close();
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function closeConnection(): Promise<void> {
  await connection?.close();
  connection = undefined;
}

async function connect(address: string): Promise<Client> {
  await connection?.close();
  connection = await Connection.connect({ address });
  return new Client({ connection });
}

function worker(address: string): CliProcess {
  const w = startCli(['worker'], { TEMPORAL_ADDRESS: address });
  workers.push(w);
  return w;
}

/** `epoch k/N {"runId": ...}` lines of the training activity: one per finished epoch. */
function finishedEpochs(log: string): { runId: string; epoch: number }[] {
  return [...log.matchAll(/\] epoch (\d+)\/\d+ \{"runId":"([^"]+)"/g)].map((m) => ({ runId: m[2]!, epoch: Number(m[1]) }));
}

/**
 * Both ways a rung can train: an activity dispatched by the server (a lost attempt noticed by its
 * heartbeat timeout) and a local activity inside the trial's workflow task (noticed by the
 * workflow task's timeout); either way the retry resumes from the trial's newest checkpoint.
 */
it.each(['activity', 'local-activity'] as const)('a sweep whose rungs run as %s survives its worker killed with SIGKILL and the Temporal server restarted: finished trials kept, none trained twice', async (trialExecution) => {
  const dbFile = join(dir, trialExecution, 'temporal', 'sweep.db');
  const storeUri = `file://${dir}/${trialExecution}/artifacts`;
  const sweepId = `crash-${trialExecution}`;
  const config = tinySweepConfig({ scheduler: { kind: 'asha', minEpochs: 1, reductionFactor: 2 }, trials: 4, concurrency: 2, trialExecution }, { epochs: 2, heartbeatTimeoutSeconds: 5 });
  const t0 = Date.now();
  const mark = (what: string) => console.log(`sweep-crash: ${what} at ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  server = await startTemporalDevServer({ dbFile, headless: true });
  const port = Number(server.address.split(':')[1]);
  let client = await connect(server.address);
  // No dataset given: the sweep prepares it (phase 1) itself, once.
  const handle = await client.workflow.start(sweepWorkflow, { taskQueue: CPU_QUEUE, workflowId: sweepId, args: [{ sweepId, storeUri, config }] });
  const first = worker(server.address);

  const before = await waitFor('a finished trial while others train', async () => {
    const status = await handle.query(sweepStatusQuery);
    if (status.counts.completed + status.counts.pruned < 1 || status.training.length === 0) return undefined;
    return handle.query(leaderboardQuery);
  }, 150_000, 100);
  mark(`killing the worker (${before.filter((r) => r.metric !== undefined).length} trials with a result)`);
  first.child.kill('SIGKILL');
  await first.exited;
  await connection?.close();
  connection = undefined;
  await server.stop();

  server = await startTemporalDevServer({ dbFile, headless: true, port });
  client = await connect(server.address);
  const second = worker(server.address);
  mark('server and worker restarted');
  const result = await client.workflow.getHandle<typeof sweepWorkflow>(sweepId).result();
  mark('sweep finished');

  const finishedBefore = before.filter((r) => r.status === 'completed' || r.status === 'pruned');
  expect(finishedBefore.length).toBeGreaterThanOrEqual(1);
  expect(result.counts.total).toBe(4);
  expect(result.counts.completed + result.counts.pruned).toBe(4);
  const byTrial = new Map<number, LeaderboardRow>(result.leaderboard.map((r) => [r.trial, r]));
  for (const row of finishedBefore) {
    // Kept exactly as it was: same status, epochs, metric and model.
    const after = byTrial.get(row.trial)!;
    expect({ ...after, rank: 0 }).toEqual({ ...row, rank: 0 });
  }

  const logs = first.output() + second.output();
  const epochs = finishedEpochs(logs);
  expect(epochs.length).toBeGreaterThan(0);
  // No epoch of any trial finished twice, so no trial was trained to completion twice...
  const seen = new Set<string>();
  for (const e of epochs) {
    const key = `${e.runId}@${e.epoch}`;
    expect(seen.has(key), `${key} trained twice`).toBe(false);
    seen.add(key);
  }
  // ...every rung resumed from the trial's checkpoint (epochs trained over all rungs = epochs)...
  for (const row of result.leaderboard) expect({ trial: row.trial, trained: row.epochsTrained }).toEqual({ trial: row.trial, trained: row.epochs });
  // ...and the restarted worker trained nothing for a trial that had finished before the crash.
  const after = finishedEpochs(second.output());
  for (const row of finishedBefore) expect(after.filter((e) => e.runId === `${sweepId}/trial-${row.trial}`)).toEqual([]);

  second.child.kill('SIGTERM');
  await second.exited;
  await closeConnection();
  await server.stop();
  server = undefined;
}, 300_000);
