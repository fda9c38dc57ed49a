import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Connection, WorkflowClient } from '@temporalio/client';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { canConnect } from '../../infra/net.js';
import { startTemporalDevServer, type TemporalDevServer } from '../../infra/temporal-dev-server.js';

const dir = mkdtempSync(path.join(tmpdir(), 'dv-temporal-test-'));
const running: TemporalDevServer[] = [];

afterAll(async () => {
  await Promise.all(running.map((server) => server.stop()));
  rmSync(dir, { recursive: true, force: true });
});

async function start(dbFile: string, namespace?: string): Promise<TemporalDevServer> {
  const cliPath = inject('dvTemporalCli') ?? process.env.DV_TEST_TEMPORAL_CLI;
  const server = await startTemporalDevServer({ dbFile, namespace, headless: true, cliPath });
  running.push(server);
  return server;
}

async function stop(server: TemporalDevServer): Promise<void> {
  await server.stop();
  running.splice(running.indexOf(server), 1);
}

describe('startTemporalDevServer', () => {
  it('keeps workflow history across a stop and a restart on the same db file', async () => {
    const dbFile = path.join(dir, 'durable', 'temporal.db');
    const namespace = 'dv-test';
    const first = await start(dbFile, namespace);
    expect(first.address).toMatch(/^127\.0\.0\.1:\d+$/);

    // No worker polls this queue, so the workflow stays open: only the db file can carry it
    // across the restart.
    let connection = await Connection.connect({ address: first.address });
    let client = new WorkflowClient({ connection, namespace });
    const workflowId = `durability-${Date.now()}`;
    await client.start('notRegisteredAnywhere', { taskQueue: 'nobody-polls', workflowId, args: [{ n: 1 }] });
    expect((await client.getHandle(workflowId).describe()).status.name).toBe('RUNNING');
    await connection.close();

    await stop(first);
    const [host, port] = first.address.split(':');
    expect(await canConnect(host ?? '', Number(port))).toBe(false);

    const second = await start(dbFile, namespace);
    connection = await Connection.connect({ address: second.address });
    client = new WorkflowClient({ connection, namespace });
    try {
      const described = await client.getHandle(workflowId).describe();
      expect(described.status.name).toBe('RUNNING');
      expect(described.type).toBe('notRegisteredAnywhere');
      // The namespace is usable for new work too, not just for reading old work.
      await client.start('notRegisteredAnywhere', { taskQueue: 'nobody-polls', workflowId: `${workflowId}-after` });
      await client.getHandle(workflowId).terminate('test done');
      expect((await client.getHandle(workflowId).describe()).status.name).toBe('TERMINATED');
    } finally {
      await connection.close();
    }
  });

  it('keeps committed workflows when the server process is killed outright (SIGKILL), its db in WAL mode', async () => {
    const dbFile = path.join(dir, 'killed', 'temporal.db');
    const first = await start(dbFile);
    expect(existsSync(`${dbFile}-wal`)).toBe(true);
    let connection = await Connection.connect({ address: first.address });
    let client = new WorkflowClient({ connection });
    const workflowIds = Array.from({ length: 5 }, (_, i) => `killed-${Date.now()}-${i}`);
    for (const workflowId of workflowIds) await client.start('notRegisteredAnywhere', { taskQueue: 'nobody-polls', workflowId });
    await connection.close();

    // No shutdown of any kind: the process dies between two statements, as in a crash.
    execFileSync('pkill', ['-KILL', '-f', '--', `--db-filename ${dbFile}`]);
    const [host, port] = first.address.split(':');
    await expect.poll(() => canConnect(host ?? '', Number(port)), { timeout: 10_000 }).toBe(false);
    await stop(first);

    const second = await start(dbFile);
    connection = await Connection.connect({ address: second.address });
    client = new WorkflowClient({ connection });
    try {
      for (const workflowId of workflowIds) expect((await client.getHandle(workflowId).describe()).status.name).toBe('RUNNING');
    } finally {
      await connection.close();
    }
  });

  it('fails with the server output when the CLI cannot start', async () => {
    const cliPath = inject('dvTemporalCli') ?? process.env.DV_TEST_TEMPORAL_CLI;
    const blocker = await start(path.join(dir, 'blocker.db'));
    const port = Number(blocker.address.split(':')[1]);
    // A taken port makes the real server exit; the error must say so and carry its output.
    await expect(startTemporalDevServer({ dbFile: path.join(dir, 'second.db'), port, headless: true, cliPath, startTimeoutMs: 20_000 })).rejects.toThrow(
      /Temporal dev server \(127\.0\.0\.1:\d+.*process exited[\s\S]*Output tail:[\s\S]*address already in use/,
    );
  });
});
