/**
 * Records histories of small real runs for the replay test:
 * `node bin/run-ts.mjs tests/replay/record-history.ts`. Writes `pipeline-v2.json` (the whole
 * pipeline on MNIST) and `dataset-arbitration-v1.json` (phase 1 pausing for label arbitration
 * until a signal settles it).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { encode } from 'fast-png';
import { temporalCliPath } from '../../infra/tools.js';
import { silentLogger } from '../../src/activities/logger.js';
import { parsePipelineConfig } from '../../src/core/config.js';
import { CPU_QUEUE, TASK_QUEUES } from '../../src/core/task-queues.js';
import { readMnistSplit } from '../../src/data/mnist-idx.js';
import { createWorkers } from '../../src/workers/create-workers.js';
import { arbitrationSignal } from '../../src/workflows/prepare-data.js';
import { datasetWorkflow, progressQuery, trainingPipelineWorkflow } from '../../src/workflows/pipeline-workflow.js';
import { startTemporal, withWorkers } from '../integration/support/temporal.js';
import { tinyConfig } from '../integration/support/tiny-config.js';

const dir = await mkdtemp(join(tmpdir(), 'dv-record-'));
const env = await startTemporal();

async function save(name: string, workflowId: string): Promise<void> {
  // The Temporal CLI writes history in the JSON form that Worker.runReplayHistory reads.
  const history = execFileSync(temporalCliPath(), ['workflow', 'show', '--workflow-id', workflowId, '--address', env.address, '--output', 'json'], { encoding: 'utf8' });
  const out = fileURLToPath(new URL(`./histories/${name}.json`, import.meta.url));
  await writeFile(out, history);
  console.log(`wrote ${out}`);
}

/** 60 MNIST digits labelled odd/even by two annotators who disagree on 6 (10%). */
async function conflictingAnnotations(root: string) {
  const mnist = await readMnistSplit('test');
  await mkdir(join(root, 'img'), { recursive: true });
  const rows = { alice: ['path,label,annotator'], bob: ['path,label,annotator'] };
  for (let i = 0; i < 60; i++) {
    const data = mnist.pixels.subarray(i * 784, (i + 1) * 784);
    await writeFile(join(root, 'img', `${i}.png`), encode({ width: 28, height: 28, channels: 1, depth: 8, data }));
    const truth = i % 2 === 0 ? 'even' : 'odd';
    rows.alice.push(`img/${i}.png,${truth},alice`);
    rows.bob.push(`img/${i}.png,${i < 6 ? (truth === 'even' ? 'odd' : 'even') : truth},bob`);
  }
  await writeFile(join(root, 'alice.csv'), rows.alice.join('\n'));
  await writeFile(join(root, 'bob.csv'), rows.bob.join('\n'));
  return parsePipelineConfig({
    dataset: { sources: [{ kind: 'csv', uri: join(root, 'alice.csv') }, { kind: 'csv', uri: join(root, 'bob.csv') }], chunkSize: 16, outliers: { contamination: 0 } },
  }).dataset;
}

try {
  const workers = await createWorkers({ connection: env.nativeConnection, queues: TASK_QUEUES, logger: silentLogger });
  await withWorkers(workers, async () => {
    const pipelineId = 'replay-pipeline';
    const pipeline = await env.client.workflow.start(trainingPipelineWorkflow, {
      taskQueue: CPU_QUEUE,
      workflowId: pipelineId,
      args: [{ runId: pipelineId, storeUri: `file://${dir}/artifacts`, config: tinyConfig({ epochs: 2, train: 600, test: 200 }) }],
    });
    await pipeline.result();

    const datasetId = 'replay-arbitration';
    const dataset = await conflictingAnnotations(join(dir, 'qa'));
    const handle = await env.client.workflow.start(datasetWorkflow, { taskQueue: CPU_QUEUE, workflowId: datasetId, args: [{ runId: datasetId, storeUri: `file://${dir}/artifacts`, dataset }] });
    while ((await handle.query(progressQuery)).arbitration?.status !== 'waiting') await new Promise((r) => setTimeout(r, 200));
    await handle.signal(arbitrationSignal, { decision: 'majority' });
    await handle.result();
  });
  await save('pipeline-v2', 'replay-pipeline');
  await save('dataset-arbitration-v1', 'replay-arbitration');
} finally {
  await env.teardown();
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
