import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { describe, expect, it } from 'vitest';
import { workflowBundle } from '../../src/workers/create-workers.js';

const HISTORIES = fileURLToPath(new URL('./histories', import.meta.url));
// Replay workers start and stop once per history; their state changes are not news.
Runtime.install({ logger: new DefaultLogger('WARN') });

/**
 * Checked-in histories of real pipeline runs. A workflow change that alters the command
 * sequence without `patched()` makes these fail with a nondeterminism error.
 * Re-record with `node bin/run-ts.mjs tests/replay/record-history.ts`.
 */
describe('workflow replay', async () => {
  const files = (await readdir(HISTORIES)).filter((f) => f.endsWith('.json')).sort();

  it('has at least one recorded pipeline history', () => {
    expect(files.length).toBeGreaterThan(0);
  });

  for (const file of files) {
    it(`replays ${file} deterministically`, async () => {
      const history = JSON.parse(await readFile(join(HISTORIES, file), 'utf8')) as unknown;
      await expect(Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file)).resolves.toBeUndefined();
    });
  }
});
