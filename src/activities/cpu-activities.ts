import { Context } from '@temporalio/activity';
import type { DataReport, EvalReport, ModelPlan } from '../core/manifests.js';
import { argmaxRows, classificationMetrics } from '../core/metrics.js';
import { readShards } from '../data/shards.js';
import { initBackend } from '../ml/backend.js';
import type { ModelSpec, TrainingEngine } from '../ml/engine.js';
import type { Logger } from './logger.js';
import { createDataActivities } from './phase1/index.js';
import { renderReportHtml } from './report-html.js';
import { runKeys } from './run-keys.js';
import type { StoreCache } from './store-cache.js';
import type { CpuActivities } from './types.js';

export interface CpuActivityDeps {
  stores: StoreCache;
  engine: TrainingEngine;
  logger: Logger;
}

const json = (value: unknown) => JSON.stringify(value, null, 2);
const JSON_TYPE = { contentType: 'application/json' };

export function createCpuActivities({ stores, engine, logger }: CpuActivityDeps): CpuActivities {
  return {
    ...createDataActivities({ stores, logger }),

    async selectModel(input): Promise<ModelPlan> {
      const store = stores.open(input.storeUri);
      const spec: ModelSpec = {
        architecture: input.model.architecture,
        inputShape: input.dataset.inputShape,
        numClasses: input.dataset.classes.length,
        widthMultiplier: input.model.widthMultiplier,
        dropout: input.model.dropout,
        ...(input.model.patchSize !== undefined ? { patchSize: input.model.patchSize } : {}),
      };
      const paramsCount = await engine.paramsCount(spec);
      const plan = {
        architecture: spec.architecture,
        inputShape: spec.inputShape,
        numClasses: spec.numClasses,
        paramsCount,
        widthMultiplier: input.model.widthMultiplier,
        dropout: input.model.dropout,
        ...(spec.patchSize !== undefined ? { patchSize: spec.patchSize } : {}),
      };
      const info = await store.put(runKeys(input.runId).plan, json(plan), JSON_TYPE);
      logger.info(`model ${plan.architecture}: ${paramsCount.toLocaleString('en-US')} parameters`, { runId: input.runId });
      return { ...plan, planUri: info.uri };
    },

    async evaluateModel(input): Promise<EvalReport> {
      const ctx = Context.current();
      const store = stores.open(input.storeUri);
      const keys = runKeys(input.runId);
      const backend = await initBackend(input.backend);
      const [model, test] = await Promise.all([store.get(store.keyOf(input.training.modelUri)), readShards(store, input.dataset.splits.test.indexUri)]);
      ctx.heartbeat();
      const probabilities = await engine.predict(model, test);
      const metrics = classificationMetrics(test.labels, argmaxRows(probabilities, input.dataset.classes.length), input.dataset.classes);
      const predictions = await store.put(keys.predictions, new Uint8Array(probabilities.buffer, probabilities.byteOffset, probabilities.byteLength));
      const body = { ...metrics, backend, predictionsUri: predictions.uri, classes: input.dataset.classes };
      const info = await store.put(keys.evaluation, json(body), JSON_TYPE);
      logger.info(`test accuracy ${(metrics.accuracy * 100).toFixed(2)}% on ${metrics.count} images`, { runId: input.runId });
      return { ...metrics, evalUri: info.uri, predictionsUri: predictions.uri, backend };
    },

    async writeReport(input) {
      const store = stores.open(input.storeUri);
      const keys = runKeys(input.runId);
      const times = { startedAt: input.startedAt, finishedAt: input.finishedAt };
      const reportUri = store.uriOf(keys.report);
      const reportHtmlUri = store.uriOf(keys.reportHtml);
      const dataUri = input.result.dataset.dataReportUri;
      const data = dataUri ? (JSON.parse((await store.get(store.keyOf(dataUri))).toString('utf8')) as DataReport) : undefined;
      // Thumbnails stay in data-report.json; report.json carries the figures.
      const dataSummary = data && { ...data, quarantine: data.quarantine.map(({ examples: _e, ...q }) => q), outliers: { ...data.outliers, examples: undefined } };
      await store.put(keys.report, json({ ...input.result, data: dataSummary, ...times, reportUri, reportHtmlUri }), JSON_TYPE);
      await store.put(keys.reportHtml, renderReportHtml(input.result, times, data), { contentType: 'text/html' });
      return { reportUri, reportHtmlUri };
    },
  };
}
