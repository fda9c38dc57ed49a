/**
 * What the sweep benchmarks share: a real Temporal dev server (the Temporal CLI, file-backed,
 * as `npm start` runs it) in a temporary folder, a client and worker connections to it, the
 * timing of a workflow execution as the server recorded it, and the figures every benchmark
 * prints with its results (peak RSS, load average).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { startTemporalDevServer } from '../../infra/temporal-dev-server.js';

export interface BenchTemporal {
  client: Client;
  /** A new connection for workers (one per call, closed by close()). */
  workerConnection(): Promise<NativeConnection>;
  /** A `file://` store URI in this session's temporary folder. */
  storeUri: string;
  close(): Promise<void>;
}

/** Starts a headless dev server on a fresh SQLite file under a temporary folder. */
export async function startBenchTemporal(prefix: string): Promise<BenchTemporal> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const server = await startTemporalDevServer({ dbFile: join(dir, 'temporal.sqlite'), headless: true });
  const connection = await Connection.connect({ address: server.address });
  const natives: NativeConnection[] = [];
  return {
    client: new Client({ connection, namespace: server.namespace }),
    storeUri: `file://${dir}/artifacts`,
    async workerConnection() {
      const native = await NativeConnection.connect({ address: server.address });
      natives.push(native);
      return native;
    },
    async close() {
      await Promise.all(natives.map((c) => c.close()));
      await connection.close();
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface ExecutionTimes {
  /** Server time the execution started, ms since the epoch. */
  start: number;
  /** Server time it closed; undefined while it runs. */
  close?: number;
}

/** Start and close times of one run of a workflow (the latest, or `runId`); undefined if there is none. */
export async function executionTimes(client: Client, workflowId: string, runId?: string): Promise<ExecutionTimes | undefined> {
  try {
    const d = await client.workflow.getHandle(workflowId, runId).describe();
    return { start: d.startTime.getTime(), ...(d.closeTime ? { close: d.closeTime.getTime() } : {}) };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** Peak resident set of this process (workers, client, training) in MiB; the Temporal server is a separate process. */
export function peakRssMiB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** The 1-, 5- and 15-minute load averages, as `uptime` prints them. */
export function loadAverageText(): string {
  return loadavg().map((l) => l.toFixed(2)).join(', ');
}

/** The p-th percentile (0-100) by linear interpolation between closest ranks. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (rank - lo);
}

export function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}
