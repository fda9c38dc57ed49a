import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/activities/logger.js';
import { CPU_QUEUE, TASK_QUEUES } from '../../src/core/task-queues.js';
import type { PipelineResult } from '../../src/core/manifests.js';
import { openStore } from '../../src/storage/open-store.js';
import { createWorkers, workflowBundle } from '../../src/workers/create-workers.js';
import { progressQuery, trainingPipelineWorkflow } from '../../src/workflows/pipeline-workflow.js';
import { startTemporal, withWorkers } from './support/temporal.js';
import { testS3StoreUri } from './support/s3.js';
import { tinyConfig } from './support/tiny-config.js';

describe('training pipeline on a real Temporal server', () => {
  let env: TestWorkflowEnvironment;
  let dir: string;

  beforeAll(async () => {
    env = await startTemporal();
    dir = await mkdtemp(join(tmpdir(), 'dv-pipeline-'));
  });
  afterAll(async () => {
    await env?.teardown();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function runPipeline(runId: string, storeUri: string, config = tinyConfig()) {
    const workers = await createWorkers({ connection: env.nativeConnection, queues: TASK_QUEUES, logger: silentLogger, workflowBundle: await workflowBundle() });
    return withWorkers(workers, async () => {
      const handle = await env.client.workflow.start(trainingPipelineWorkflow, { taskQueue: CPU_QUEUE, workflowId: runId, args: [{ runId, storeUri, config }] });
      const result = await handle.result();
      const progress = await handle.query(progressQuery);
      return { result, progress, history: await handle.fetchHistory() };
    });
  }

  function expectWholeRun(result: PipelineResult, runId: string) {
    expect(result.runId).toBe(runId);
    expect(result.dataset.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    // Every one of the 1,500 images is accounted for; cleaning may set a few aside.
    const { splits, stats } = result.dataset;
    expect(stats.accepted + stats.quarantined).toBe(1500);
    expect(splits.train.count + splits.val.count + splits.test.count).toBe(stats.accepted);
    expect(stats.quarantined).toBeLessThan(30);
    expect(splits.test.count).toBeGreaterThan(290);
    expect(result.plan.paramsCount).toBeGreaterThan(1000);
    expect(result.training.epochsCompleted).toBe(2);
    expect(result.training.history.map((h) => h.epoch)).toEqual([1, 2]);
    expect(result.training.checkpointUris).toHaveLength(2);
    expect(result.training.backend).toBe('wasm');
    // 1,080 training images, 2 epochs: far better than the 10% of guessing.
    expect(result.evaluation.accuracy).toBeGreaterThan(0.7);
    expect(result.evaluation.confusion.flat().reduce((a, b) => a + b, 0)).toBe(splits.test.count);
    expect(result.validation.throughputImgPerS).toBeGreaterThan(0);
    expect(result.validation.latencyMs.p95).toBeGreaterThanOrEqual(result.validation.latencyMs.p50);
    expect(result.validation.peakRssMb).toBeGreaterThan(50);
    expect(result.validation.verdicts.map((v) => v.gate)).toEqual(['min-accuracy', 'max-latency-p95']);
  }

  it('runs the five phases on MNIST into a file store, with a report a person can open', async () => {
    const storeUri = `file://${dir}/artifacts`;
    const { result, progress, history } = await runPipeline('file-run', storeUri);
    expectWholeRun(result, 'file-run');
    expect(progress.phase).toBe('done');
    expect(progress.completed).toEqual(['prepare', 'select', 'train', 'evaluate', 'validate', 'report']);
    expect(progress.epoch).toBe(2);

    const report = JSON.parse(await readFile(new URL(result.reportUri), 'utf8')) as PipelineResult;
    expect(report.evaluation.accuracy).toBe(result.evaluation.accuracy);
    const html = await readFile(new URL(result.reportHtmlUri), 'utf8');
    expect(html).toContain('Confusion matrix');
    // The data report: balance per class and split, label QA, duplicates, outliers with thumbnails.
    expect(html).toContain('Class balance');
    expect(html).toContain('Label QA');
    expect(html).toMatch(/Isolation forest over \d+ images/);
    expect(html).toContain('data:image/png;base64,');
    expect(html).toContain(`${(result.evaluation.accuracy * 100).toFixed(2)}%`);

    // Manifests carry URIs only: no event payload comes near Temporal's 256 KB warning.
    const largest = Math.max(...history.events!.map((e) => JSON.stringify(e).length));
    expect(largest).toBeLessThan(64 * 1024);
  });

  it('runs against the real S3 server and reuses unchanged shards on a second run', async () => {
    const storeUri = testS3StoreUri('pipeline');
    const first = await runPipeline('s3-run-1', storeUri);
    expectWholeRun(first.result, 's3-run-1');
    expect(first.result.reportUri.startsWith(storeUri)).toBe(true);
    expect(first.result.dataset.stats.reused).toBe(false);

    const store = openStore(storeUri);
    const html = (await store.get(store.keyOf(first.result.reportHtmlUri))).toString('utf8');
    expect(html).toContain('s3-run-1');

    const second = await runPipeline('s3-run-2', storeUri);
    expect(second.result.dataset.stats.reused).toBe(true);
    expect(second.result.dataset.fingerprint).toBe(first.result.dataset.fingerprint);
    // Same seed, same shards, same engine: the same model quality.
    expect(second.result.evaluation.accuracy).toBeCloseTo(first.result.evaluation.accuracy, 6);
  });
});
