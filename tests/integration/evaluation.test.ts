import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateSavedPredictions, type EvaluationDocument } from '../../src/activities/evaluation-document.js';
import { silentLogger } from '../../src/activities/logger.js';
import { loadPredictions } from '../../src/activities/saved-predictions.js';
import { evaluateProbabilities } from '../../src/core/evaluation/index.js';
import { CPU_QUEUE, TASK_QUEUES } from '../../src/core/task-queues.js';
import { openStore } from '../../src/storage/open-store.js';
import { createWorkers, workflowBundle } from '../../src/workers/create-workers.js';
import { trainingPipelineWorkflow } from '../../src/workflows/pipeline-workflow.js';
import { startTemporal, withWorkers } from './support/temporal.js';
import { tinyConfig } from './support/tiny-config.js';

describe('phase 4 on a real Temporal server: metrics from saved probabilities, Grad-CAM in the report', () => {
  let env: TestWorkflowEnvironment;
  let dir: string;

  beforeAll(async () => {
    env = await startTemporal();
    dir = await mkdtemp(join(tmpdir(), 'dv-evaluation-'));
  });
  afterAll(async () => {
    await env?.teardown();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('writes evaluation.json with every metric, recomputable from the predictions alone, and a report with the overlays', async () => {
    const storeUri = `file://${dir}/artifacts`;
    const runId = 'eval-run';
    const workers = await createWorkers({ connection: env.nativeConnection, queues: TASK_QUEUES, logger: silentLogger, workflowBundle: await workflowBundle() });
    const result = await withWorkers(workers, () =>
      env.client.workflow.execute(trainingPipelineWorkflow, { taskQueue: CPU_QUEUE, workflowId: runId, args: [{ runId, storeUri, config: tinyConfig() }] }),
    );
    const store = openStore(storeUri);
    const evaluation = result.evaluation;

    // The EvalReport carries the headline figures and stays small.
    expect(evaluation.topK?.map((t) => t.k)).toEqual([1, 5]);
    expect(evaluation.topK?.[1]?.accuracy).toBeGreaterThanOrEqual(evaluation.accuracy);
    expect(evaluation.macroRocAuc).toBeGreaterThan(0.8);
    expect(evaluation.ece).toBeGreaterThanOrEqual(0);
    expect(evaluation.microF1).toBe(evaluation.accuracy);
    expect(evaluation.gradCam).toMatchObject({ layer: 'conv2' });
    expect(JSON.stringify(evaluation).length).toBeLessThan(8 * 1024);

    const doc = JSON.parse((await store.get(store.keyOf(evaluation.evalUri))).toString('utf8')) as EvaluationDocument;
    expect(doc.count).toBe(result.dataset.splits.test.count);
    expect(doc.curves).toHaveLength(10);
    expect(doc.curves.every((c) => c.roc !== null && c.precisionRecall !== null)).toBe(true);
    expect(doc.calibration.reliability).toHaveLength(15);
    expect(doc.perClass.map((c) => c.className)).toEqual(result.dataset.classes);
    expect(doc.macro.f1).toBe(evaluation.macroF1);

    // Recomputed from the stored files alone (the predictions' header holds labels and classes): the same figures, exactly.
    const { classNames, count, accuracy, topK, perClass, macro, micro, weighted, confusion, curves, calibration } = doc;
    const recomputed = await evaluateSavedPredictions(store, evaluation.evalUri);
    expect(recomputed).toEqual({ classNames, count, accuracy, topK, perClass, macro, micro, weighted, confusion, curves, calibration });
    const saved = await loadPredictions(store, evaluation.predictionsUri);
    expect(evaluateProbabilities(saved.probabilities, saved.labels, saved.classes)).toEqual(recomputed);

    // Grad-CAM: correct and misclassified examples, each a 112 px PNG in the store.
    const examples = doc.gradCam.examples;
    expect(doc.gradCam).toMatchObject({ enabled: true, layer: 'conv2', height: 11, width: 11, examplesPerClass: 2 });
    expect(examples.length).toBe(evaluation.gradCam?.images);
    expect(examples.filter((e) => e.correct).length).toBe(20); // 2 per class: every class has well over 2 correct images
    expect(examples.some((e) => !e.correct)).toBe(true);
    for (const e of examples) {
      expect(e.correct).toBe(e.trueClass === e.predictedClass);
      expect(e.trueClass).toBe(saved.labels[e.index]);
      expect(e.probability).toBeCloseTo(Math.max(...saved.probabilities.subarray(e.index * 10, e.index * 10 + 10)), 6);
    }
    const png = await sharp(await store.get(store.keyOf(examples[0]!.uri))).metadata();
    expect([png.format, png.width, png.height]).toEqual(['png', 112, 112]);

    const html = (await store.get(store.keyOf(result.reportHtmlUri))).toString('utf8');
    expect(html).toContain('<h3>Grad-CAM</h3>');
    expect(html).toContain('Layer <code>conv2</code>');
    const overlays = html.match(/<img src="data:image\/png;base64,[^"]+" alt="Grad-CAM of test image \d+">/g) ?? [];
    expect(overlays).toHaveLength(examples.length);
    expect(html).toContain('aria-label="ROC"');
    expect(html).toContain('aria-label="Precision-recall"');
    expect(html).toContain('aria-label="Reliability diagram"');
    expect(html).toContain(`macro ROC AUC<b>${evaluation.macroRocAuc!.toFixed(4)}</b>`);
  });
});
