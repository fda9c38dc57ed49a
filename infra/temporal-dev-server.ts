import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { startManagedProcess, waitUntilReady, type ServerLog } from './managed-process.js';
import { canConnect, freePorts } from './net.js';
import { temporalCliPath } from './tools.js';

const HOST = '127.0.0.1';

export interface TemporalDevServerOptions {
  /** SQLite file holding all state; reusing it after stop() resumes where the server left off. */
  dbFile: string;
  /** Front-end gRPC port. Defaults to a free port. */
  port?: number;
  /** Web UI port. Defaults to a free port. */
  uiPort?: number;
  /** Disables the Web UI (uiUrl is then undefined). Defaults to false. */
  headless?: boolean;
  /** Namespace created at launch and checked before returning. Defaults to `default`. */
  namespace?: string;
  /** Receives server output lines. Defaults to dropping them (the tail still goes into errors). */
  log?: ServerLog;
  /** Defaults to 60 s: the first start on a new db file runs schema setup. */
  startTimeoutMs?: number;
  /** Temporal CLI binary. Defaults to {@link temporalCliPath}. */
  cliPath?: string;
  /** `PRAGMA=VALUE` statements for the SQLite file. Defaults to {@link DEFAULT_SQLITE_PRAGMAS}. */
  sqlitePragmas?: readonly string[];
}

/**
 * Write-ahead log with `synchronous=normal`: a commit no longer waits for an fsync of the whole
 * database, only checkpoints do. The file survives the server process being killed at any moment
 * (the sweep crash test kills and restarts it); only an operating-system crash or power loss can
 * drop the last few commits. Each server transaction (a child workflow start, a workflow task
 * completion) takes ~5 ms here instead of ~14 ms, which is most of a sweep trial's orchestration
 * overhead (see bench/sweep-overhead.ts).
 */
export const DEFAULT_SQLITE_PRAGMAS: readonly string[] = ['journal_mode=wal', 'synchronous=normal'];

export interface TemporalDevServer {
  /** `host:port` of the gRPC front end, as `TEMPORAL_ADDRESS` expects it. */
  address: string;
  namespace: string;
  uiUrl: string | undefined;
  /** Stops the server (SIGTERM, then SIGKILL after 10 s) and waits for it to exit. */
  stop(): Promise<void>;
}

/**
 * Starts `temporal server start-dev` on 127.0.0.1 and resolves once the namespace answers
 * describeNamespace, so the caller can start workers and workflows right away.
 */
export async function startTemporalDevServer(options: TemporalDevServerOptions): Promise<TemporalDevServer> {
  const namespace = options.namespace ?? 'default';
  const headless = options.headless ?? false;
  if (options.dbFile === '') throw new Error('startTemporalDevServer: dbFile must be a file path, got an empty string');
  const dbFile = path.resolve(options.dbFile);
  mkdirSync(path.dirname(dbFile), { recursive: true });

  const [freeGrpc, freeUi] = await freePorts(2, HOST);
  const port = options.port ?? freeGrpc;
  const uiPort = options.uiPort ?? freeUi;
  if (port === undefined || uiPort === undefined) throw new Error('freePorts(2) returned fewer than 2 ports');

  const args = ['server', 'start-dev', '--db-filename', dbFile, '--ip', HOST, '--port', String(port), '--log-level', 'warn'];
  for (const pragma of options.sqlitePragmas ?? DEFAULT_SQLITE_PRAGMAS) args.push('--sqlite-pragma', pragma);
  args.push(...(headless ? ['--headless'] : ['--ui-port', String(uiPort), '--ui-disable-news-fetch']));
  if (namespace !== 'default') args.push('--namespace', namespace);

  const address = `${HOST}:${port}`;
  const proc = startManagedProcess({
    name: 'temporal',
    command: options.cliPath ?? temporalCliPath(),
    args,
    log: options.log,
    // The banner the CLI prints once its front end listens, e.g. "Temporal Server:   localhost:7233".
    readyLine: new RegExp(`^Temporal Server:\\s+\\S+:${port}\\s*$`),
  });
  const what = `Temporal dev server (${address}, db ${dbFile})`;
  try {
    await waitUntilReady(proc, what, async () => proc.readyLineSeen && (await canConnect(HOST, port)), options.startTimeoutMs ?? 60_000);
    // The port opens before the namespace is registered; a workflow started in between fails
    // with NamespaceNotFound, so readiness means the namespace itself answers.
    await waitUntilReady(proc, what, () => namespaceAnswers(address, namespace), options.startTimeoutMs ?? 60_000);
  } catch (error) {
    await proc.stop();
    throw error;
  }
  return {
    address,
    namespace,
    uiUrl: headless ? undefined : `http://${HOST}:${uiPort}`,
    stop: () => proc.stop(),
  };
}

async function namespaceAnswers(address: string, namespace: string): Promise<boolean> {
  const connection = await Connection.connect({ address, connectTimeout: '2s' });
  try {
    await connection.workflowService.describeNamespace({ namespace });
    return true;
  } finally {
    await connection.close();
  }
}
