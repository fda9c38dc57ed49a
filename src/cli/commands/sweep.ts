import { WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import { randomBytes } from 'node:crypto';
import { createStderrLogger } from '../../activities/logger.js';
import { sweepLeaderboardKey } from '../../activities/sweep-activities.js';
import { ConfigError } from '../../core/config.js';
import type { LeaderboardRow } from '../../core/sweep-state.js';
import { CPU_QUEUE } from '../../core/task-queues.js';
import { openStore } from '../../storage/open-store.js';
import {
  enqueueTrialSignal, extendBudgetSignal, leaderboardQuery, setConcurrencySignal, stopSweepNowSignal, stopSweepSignal, sweepEventsQuery, sweepStatusQuery, sweepWorkflow,
  type SweepEvent, type SweepResult,
} from '../../workflows/sweep-workflow.js';
import { describeFailure } from '../failure-text.js';
import { driveWorkflow } from '../drive-workflow.js';
import { loadConfig } from '../load-config.js';
import { openTemporalSession, type TemporalSession } from '../temporal-session.js';
import { defaultStoreUri } from './run.js';

export interface SweepStartOptions {
  store?: string;
  sweepId?: string;
  json?: boolean;
  /** Serve both queues from this process. Defaults to true; false relies on remote workers. */
  worker?: boolean;
  /** Seconds between progress polls. Defaults to 1. */
  pollSeconds?: number;
}

type SweepHandle = WorkflowHandle<typeof sweepWorkflow>;

export function newSweepId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `sweep-${stamp}-${randomBytes(3).toString('hex')}`;
}

/** `durable-vision sweep start [config]`: runs (or re-attaches to) a sweep, printing each rung's result, then the leaderboard. */
export async function sweepStartCommand(configPath: string | undefined, options: SweepStartOptions): Promise<number> {
  const logger = createStderrLogger();
  const config = await loadConfig(configPath);
  if (config.sweep === undefined) {
    throw new ConfigError(`${configPath ?? 'embedded defaults'}: no sweep section; add one (sweep: { space: ..., trials: ... }, see README "Sweeps")`, []);
  }
  const store = openStore(options.store ?? defaultStoreUri());
  const sweepId = options.sweepId ?? newSweepId();
  sweepLeaderboardKey(sweepId);

  const metric = config.sweep.metric;
  return driveWorkflow<typeof sweepWorkflow>({
    logger,
    label: `sweep ${sweepId}`,
    workflowId: sweepId,
    resumeHint: `'durable-vision sweep start --sweep-id ${sweepId}' follows it again`,
    embeddedWorkers: options.worker !== false,
    startedDetail: `store ${store.baseUri}`,
    // A finished sweep's id is not reused: its trials' checkpoints are still in the store.
    start: (session) => session.client.workflow.start(sweepWorkflow, { taskQueue: CPU_QUEUE, workflowId: sweepId, workflowIdReusePolicy: 'REJECT_DUPLICATE', args: [{ sweepId, storeUri: store.baseUri, config }] }),
    follow: (handle, signal) => followSweep(handle, metric, (options.pollSeconds ?? 1) * 1000, signal),
    finish: (result) => {
      printResult(result);
      if (options.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    },
  });
}

/**
 * Prints a line for every trial started and every rung result (the sweep's events query), until
 * aborted. When the sweep has ended, the events after the last poll are printed too (the query
 * replays a closed workflow), so a sweep quicker than the poll interval still shows its rungs.
 */
async function followSweep(handle: SweepHandle, metric: string, intervalMs: number, signal: AbortSignal): Promise<void> {
  let after: number | undefined;
  const poll = async (): Promise<void> => {
    const events = await handle.query(sweepEventsQuery, after).catch(() => undefined);
    for (const line of eventLines(events ?? [], metric)) process.stderr.write(`${line}\n`);
    after = events?.at(-1)?.seq ?? after;
  };
  while (!signal.aborted) {
    await poll();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, intervalMs);
      signal.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
    });
  }
  // Interrupted (Ctrl-C) leaves it running, with workers stopping: nothing more to ask then.
  const status = await handle.describe().then((d) => d.status.name, () => 'UNKNOWN');
  if (status === 'COMPLETED') await poll();
}

/** One line per event: a trial's first rung starting (with its config, and how it runs when locally), or a rung's result. */
export function eventLines(events: readonly SweepEvent[], metric: string): string[] {
  const out: string[] = [];
  for (const e of events) {
    if (e.kind === 'started') {
      if (e.config !== undefined) {
        const notes = [e.source === 'enqueued' ? 'enqueued' : '', e.execution === 'local-activity' ? 'as a local activity' : ''].filter(Boolean);
        out.push(`  trial ${e.trial} started${notes.length > 0 ? ` (${notes.join(', ')})` : ''}: ${configText({ config: e.config })}`);
      }
    } else if (e.row !== undefined) {
      const row = e.row;
      out.push(`  trial ${row.trial} epoch ${row.epochs}: ${metric} ${fmt(row.metric)} -> ${row.status === 'running' ? 'continues' : row.status}${row.detail && row.status !== 'running' ? ` (${row.detail})` : ''}`);
    }
  }
  return out;
}

function printResult(r: SweepResult): void {
  const c = r.counts;
  process.stderr.write(`\nsweep ${r.sweepId} finished${r.stopReason ? ` (${r.stopReason})` : ''}: ${c.total} trials, ${c.completed} completed, ${c.pruned} pruned, ${c.failed} failed, ${c.stopped} stopped\n`);
  process.stderr.write(`${formatLeaderboard(r.leaderboard, r.metric)}\n`);
  if (r.leaderboard.length < c.total) process.stderr.write(`(the first ${r.leaderboard.length} of ${c.total} trials; every trial's row is in the leaderboard file below)\n`);
  if (r.best) process.stderr.write(`best: trial ${r.best.trial}, ${r.metric} ${fmt(r.best.metric)}, model ${r.best.modelUri ?? '-'}\n`);
  process.stderr.write(`leaderboard: ${r.leaderboardUri}\n`);
}

/** The leaderboard as an aligned text table, best first. */
export function formatLeaderboard(rows: readonly LeaderboardRow[], metric: string): string {
  const header = ['rank', 'trial', 'status', 'epochs', metric, 'best', 'config'];
  const body = rows.map((r) => [String(r.rank), String(r.trial), r.status, String(r.epochs), fmt(r.metric), fmt(r.bestMetric), configText(r)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  return [header, ...body].map((cells) => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join('  ')).join('\n');
}

function configText(row: Pick<LeaderboardRow, 'config'>): string {
  return Object.entries(row.config).map(([k, v]) => `${k}=${typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(4) : String(v)}`).join(' ');
}

function fmt(value: number | undefined): string {
  return value === undefined ? '-' : value.toFixed(4);
}

/** Opens the session, finds the sweep, and runs `fn` on it; names the sweep when it does not exist. */
async function withSweep(sweepId: string, what: string, fn: (handle: SweepHandle, status: string, session: TemporalSession) => Promise<number>): Promise<number> {
  const session = await openTemporalSession(createStderrLogger(what));
  try {
    const handle = session.client.workflow.getHandle<typeof sweepWorkflow>(sweepId);
    let status: string;
    try {
      status = (await handle.describe()).status.name;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        process.stderr.write(`no sweep named ${sweepId} in namespace ${session.namespace} at ${session.address}\n`);
        return 1;
      }
      throw err;
    }
    return await fn(handle, status, session);
  } finally {
    await session.close();
  }
}

/** `sweep status <id>`: budget, concurrency, counts and the best trial (live), or the final figures. */
export function sweepStatusCommand(sweepId: string, options: { json?: boolean }): Promise<number> {
  return withSweep(sweepId, 'sweep status', async (handle, status) => {
    let out: Record<string, unknown> = { sweepId, status };
    if (status === 'RUNNING') out = { ...out, ...(await handle.query(sweepStatusQuery)) };
    else if (status === 'COMPLETED') {
      const r = await handle.result();
      out = { ...out, counts: r.counts, best: r.best, stopReason: r.stopReason, leaderboardUri: r.leaderboardUri };
    } else if (status === 'FAILED') out.failure = await handle.result().then(() => undefined, (err: unknown) => describeFailure(err));
    process.stdout.write(options.json ? `${JSON.stringify(out, null, 2)}\n` : `${Object.entries(out).map(([k, v]) => `${k}: ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`).join('\n')}\n`);
    return 0;
  });
}

/** `sweep leaderboard <id>`: trials best first, live or final. */
export function sweepLeaderboardCommand(sweepId: string, options: { json?: boolean }): Promise<number> {
  return withSweep(sweepId, 'sweep leaderboard', async (handle, status) => {
    const [rows, metric, total, where] = status === 'COMPLETED'
      ? await handle.result().then((r) => [r.leaderboard, r.metric, r.counts.total, `the leaderboard file ${r.leaderboardUri}`] as const)
      : await (async () => {
        const live = await handle.query(sweepStatusQuery);
        return [await handle.query(leaderboardQuery), live.metric, live.counts.total, 'the store once the sweep ends'] as const;
      })();
    process.stdout.write(options.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatLeaderboard(rows, metric)}\n`);
    if (rows.length < total) process.stderr.write(`(the first ${rows.length} of ${total} trials; every trial's row is in ${where})\n`);
    return 0;
  });
}

/** The steering commands: each sends one signal to a running sweep. */
export function sweepSignalCommand(sweepId: string, action: 'stop' | 'stopNow' | 'extend' | 'concurrency' | 'enqueue', value?: string): Promise<number> {
  let send: (handle: SweepHandle) => Promise<void>;
  if (action === 'stop') send = (h) => h.signal(stopSweepSignal, value ?? 'stopped from the command line');
  else if (action === 'stopNow') send = (h) => h.signal(stopSweepNowSignal, value ?? 'stopped from the command line, running rungs cancelled');
  else if (action === 'enqueue') {
    let config: unknown;
    try {
      config = JSON.parse(value ?? '');
    } catch {
      process.stderr.write(`sweep enqueue: the configuration must be a JSON object such as '{"training.learningRate": 0.001}', got ${JSON.stringify(value)}\n`);
      return Promise.resolve(2);
    }
    if (typeof config !== 'object' || config === null || Array.isArray(config)) {
      process.stderr.write(`sweep enqueue: the configuration must be a JSON object, got ${value}\n`);
      return Promise.resolve(2);
    }
    send = (h) => h.signal(enqueueTrialSignal, config as Record<string, number | string | boolean>);
  } else {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 1) {
      process.stderr.write(`sweep ${action}: n must be an integer >= 1, got ${JSON.stringify(value)}\n`);
      return Promise.resolve(2);
    }
    send = (h) => (action === 'extend' ? h.signal(extendBudgetSignal, n) : h.signal(setConcurrencySignal, n));
  }
  return withSweep(sweepId, `sweep ${action}`, async (handle, status) => {
    if (status !== 'RUNNING') {
      process.stderr.write(`sweep ${sweepId} is ${status.toLowerCase()}; only a running sweep can be steered\n`);
      return 1;
    }
    await send(handle);
    process.stderr.write(`sent ${action}${value !== undefined ? ` ${value}` : ''} to sweep ${sweepId}; 'durable-vision sweep status ${sweepId}' shows the effect (refused requests are listed under notices)\n`);
    return 0;
  });
}
