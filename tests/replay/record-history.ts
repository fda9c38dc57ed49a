/**
 * Records the history of a small real pipeline run for the replay test:
 * `node bin/run-ts.mjs tests/replay/record-history.ts [name]`.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { temporalCliPath } from '../../infra/tools.js';
import { silentLogger } from '../../src/activities/logger.js';
import { CPU_QUEUE, TASK_QUEUES } from '../../src/core/task-queues.js';
import { createWorkers } from '../../src/workers/create-workers.js';
import { trainingPipelineWorkflow } from '../../src/workflows/pipeline-workflow.js';
import { startTemporal, withWorkers } from '../integration/support/temporal.js';
import { tinyConfig } from '../integration/support/tiny-config.js';

const name = process.argv[2] ?? 'pipeline-v1';
const dir = await mkdtemp(join(tmpdir(), 'dv-record-'));
const env = await startTemporal();
try {
  const workers = await createWorkers({ connection: env.nativeConnection, queues: TASK_QUEUES, logger: silentLogger });
  const runId = `replay-${name}`;
  await withWorkers(workers, async () => {
    const handle = await env.client.workflow.start(trainingPipelineWorkflow, {
      taskQueue: CPU_QUEUE,
      workflowId: runId,
      args: [{ runId, storeUri: `file://${dir}/artifacts`, config: tinyConfig({ epochs: 2, train: 600, test: 200 }) }],
    });
    await handle.result();
  });
  // The Temporal CLI writes history in the JSON form that Worker.runReplayHistory reads.
  const history = execFileSync(temporalCliPath(), ['workflow', 'show', '--workflow-id', runId, '--address', env.address, '--output', 'json'], { encoding: 'utf8' });
  const out = fileURLToPath(new URL(`./histories/${name}.json`, import.meta.url));
  await writeFile(out, history);
  console.log(`wrote ${out}`);
} finally {
  await env.teardown();
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
