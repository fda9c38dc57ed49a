import { Context } from '@temporalio/activity';
import type { DataReport, EvalReport, ModelPlan } from '../core/manifests.js';
import { evaluationConfigSchema } from '../core/config.js';
import { readShards } from '../data/shards.js';
import { initBackend } from '../ml/backend.js';
import type { BackboneSpec, ImageBatchSource, ModelSpec, TrainingEngine } from '../ml/engine.js';
import { buildTransferModel, readLocalFile } from '../ml/transfer.js';
import type { Logger } from './logger.js';
import { createDataActivities } from './phase1/index.js';
import type { EvaluationHtmlInput } from './report-evaluation-html.js';
import { renderReportHtml } from './report-html.js';
import { runKeys } from './run-keys.js';
import type { StoreCache } from './store-cache.js';
import { readJson } from './store-json.js';
import type { ArtifactStore } from '../storage/artifact-store.js';
import type { CpuActivities, SelectModelInput } from './types.js';
import { EVALUATION_FORMAT, evaluateSavedPredictions, resolvedOptions, summariseEvaluation, type EvaluationDocument } from './evaluation-document.js';
import { gradCamExamples } from './grad-cam-examples.js';
import { onnxRuntimeName, predictOnnx } from '../ml/onnx-benchmark.js';
import { TorchUnavailableError } from '../ml/torch-process.js';
import { isTorchModel } from '../ml/torch-model-bytes.js';
import { savePredictions } from './saved-predictions.js';

export interface CpuActivityDeps {
  stores: StoreCache;
  engine: TrainingEngine;
  logger: Logger;
}

const json = (value: unknown) => JSON.stringify(value, null, 2);

/**
 * Reads a backbone file (model.json or a weight shard) by URI: s3:// through the activity's
 * store cache (the store of the file's folder), anything else from the local file system.
 */
export function backboneFileReader(stores: StoreCache): (uri: string) => Promise<Uint8Array> {
  return async (uri) => {
    if (!uri.startsWith('s3://')) return readLocalFile(uri);
    const slash = uri.lastIndexOf('/');
    const folder = uri.slice(0, slash);
    const key = uri.slice(slash + 1);
    if (folder.length <= 's3://'.length || key.length === 0) throw new Error(`backbone file URI ${JSON.stringify(uri)} names no object inside a bucket`);
    return stores.open(folder).get(key);
  };
}

/** The model config's backbone as a ModelSpec backbone (undefined when there is none). */
export function backboneSpec(backbone: { uri: string; cutLayer: string; strict?: boolean } | undefined): BackboneSpec | undefined {
  return backbone === undefined ? undefined : { uri: backbone.uri, cutLayer: backbone.cutLayer, ...(backbone.strict !== undefined ? { strict: backbone.strict } : {}) };
}
const JSON_TYPE = { contentType: 'application/json' };

/**
 * evaluation.json with its Grad-CAM PNGs as data URIs, for the HTML report; undefined for an
 * evaluation written before evaluation.json held the full report.
 */
async function readEvaluationDetail(store: ArtifactStore, evalUri: string): Promise<EvaluationHtmlInput | undefined> {
  const doc = await readJson<Partial<EvaluationDocument>>(store, store.keyOf(evalUri));
  if (doc.format !== EVALUATION_FORMAT) return undefined;
  const full = doc as EvaluationDocument;
  const images = new Map<string, string>();
  for (const example of full.gradCam.examples) {
    const png = await store.get(store.keyOf(example.uri));
    images.set(example.uri, `data:image/png;base64,${png.toString('base64')}`);
  }
  return { doc: full, images, evalUri };
}

/**
 * Plans a run's model: the architecture, input and classes from the dataset, and the parameter
 * count, written to the run's plan.json. The `selectModel` activity, and the first rung of a
 * sweep trial (which plans where it trains, in one activity).
 */
export function createModelPlanner({ stores, engine, logger }: CpuActivityDeps): (input: SelectModelInput) => Promise<ModelPlan> {
  // The engine reads backbones from local files only; one in an s3:// store is counted here, read through the store cache.
  const countParams = async (spec: ModelSpec): Promise<number> => {
    if (spec.backbone === undefined || !spec.backbone.uri.startsWith('s3://')) return engine.paramsCount(spec);
    const model = await buildTransferModel(spec, 0, { read: backboneFileReader(stores) });
    try {
      return model.countParams();
    } finally {
      model.dispose();
    }
  };
  return async (input) => {
    const store = stores.open(input.storeUri);
    const spec: ModelSpec = {
      architecture: input.model.architecture,
      inputShape: input.dataset.inputShape,
      numClasses: input.dataset.classes.length,
      widthMultiplier: input.model.widthMultiplier,
      dropout: input.model.dropout,
      ...(input.model.patchSize !== undefined ? { patchSize: input.model.patchSize } : {}),
      ...(input.model.backbone !== undefined ? { backbone: backboneSpec(input.model.backbone) } : {}),
    };
    const paramsCount = await countParams(spec);
    const plan = {
      architecture: spec.architecture,
      inputShape: spec.inputShape,
      numClasses: spec.numClasses,
      paramsCount,
      widthMultiplier: input.model.widthMultiplier,
      dropout: input.model.dropout,
      ...(spec.patchSize !== undefined ? { patchSize: spec.patchSize } : {}),
      ...(spec.backbone !== undefined ? { backbone: spec.backbone } : {}),
    };
    const info = await store.put(runKeys(input.runId).plan, json(plan), JSON_TYPE);
    logger.info(`model ${plan.architecture}: ${paramsCount.toLocaleString('en-US')} parameters`, { runId: input.runId });
    return { ...plan, planUri: info.uri };
  };
}

export function createCpuActivities(deps: CpuActivityDeps): CpuActivities {
  const { stores, engine, logger } = deps;
  const planModel = createModelPlanner(deps);

  /**
   * Test-set probabilities from the engine that wrote the model; a torch model on a worker
   * without PyTorch is run from its ONNX export with onnxruntime-node instead.
   */
  async function predictOrOnnx(model: Uint8Array, test: ImageBatchSource, onnxUri: string | undefined, store: ArtifactStore): Promise<{ probabilities: Float32Array; runtime?: string }> {
    try {
      return { probabilities: await engine.predict(model, test) };
    } catch (error) {
      if (!(error instanceof TorchUnavailableError) || !isTorchModel(model) || onnxUri === undefined) throw error;
      logger.info(`PyTorch cannot start on this worker, so the torch model is evaluated from its ONNX export (${onnxUri}) with onnxruntime-node`, { reason: error.message });
      const onnx = await store.get(store.keyOf(onnxUri));
      return { probabilities: await predictOnnx(onnx, test), runtime: onnxRuntimeName() };
    }
  }
  return {
    ...createDataActivities({ stores, logger }),

    selectModel: (input) => planModel(input),

    async evaluateModel(input): Promise<EvalReport> {
      const ctx = Context.current();
      const store = stores.open(input.storeUri);
      const keys = runKeys(input.runId);
      const config = evaluationConfigSchema.parse(input.evaluation ?? {});
      const backend = await initBackend(input.backend);
      const classes = input.dataset.classes;
      const [model, test] = await Promise.all([store.get(store.keyOf(input.training.modelUri)), readShards(store, input.dataset.splits.test.indexUri)]);
      ctx.heartbeat();
      const predicted = await predictOrOnnx(model, test, input.training.onnxUri, store);
      const probabilities = predicted.probabilities;
      const saved = await savePredictions(store, keys.predictions, probabilities, test.labels, classes);
      ctx.heartbeat();
      // The figures come from the stored file, the same path a later recomputation takes.
      const options = resolvedOptions(classes.length, config.calibrationBins);
      const metrics = await evaluateSavedPredictions(store, saved.uri, { ...options, expected: { labels: test.labels, classes } });
      ctx.heartbeat();
      const gradCam = await gradCamExamples({
        engine, store, model, test, probabilities, classes, config: config.gradCam, keyOf: keys.gradCam, onProgress: () => ctx.heartbeat(),
      });
      if (gradCam.skipped !== undefined && config.gradCam.enabled) logger.warn(`Grad-CAM skipped: ${gradCam.skipped}`, { runId: input.runId });
      const doc: EvaluationDocument = {
        format: EVALUATION_FORMAT,
        version: 1,
        ...metrics,
        backend: predicted.runtime ?? backend,
        classes: metrics.classNames,
        macroF1: metrics.macro.f1,
        predictionsUri: saved.uri,
        predictionsHeaderUri: saved.headerUri,
        options,
        gradCam,
      };
      // Compact: the curves hold a point per distinct score and class.
      const info = await store.put(keys.evaluation, JSON.stringify(doc), JSON_TYPE);
      const auc = metrics.macro.rocAuc === null ? 'n/a' : metrics.macro.rocAuc.toFixed(4);
      logger.info(`test accuracy ${(metrics.accuracy * 100).toFixed(2)}% on ${metrics.count} images, macro F1 ${(metrics.macro.f1 * 100).toFixed(2)}%, macro AUC ${auc}, ECE ${metrics.calibration.ece.toFixed(4)}; ${gradCam.examples.length} Grad-CAM overlays`, { runId: input.runId });
      return summariseEvaluation(doc, info.uri);
    },

    async writeReport(input) {
      const store = stores.open(input.storeUri);
      const keys = runKeys(input.runId);
      const times = { startedAt: input.startedAt, finishedAt: input.finishedAt };
      const reportUri = store.uriOf(keys.report);
      const reportHtmlUri = store.uriOf(keys.reportHtml);
      const dataUri = input.result.dataset.dataReportUri;
      const data = dataUri ? await readJson<DataReport>(store, store.keyOf(dataUri)) : undefined;
      // Thumbnails stay in data-report.json; report.json carries the figures.
      const dataSummary = data && { ...data, quarantine: data.quarantine.map(({ examples: _e, ...q }) => q), outliers: { ...data.outliers, examples: undefined } };
      await store.put(keys.report, json({ ...input.result, data: dataSummary, ...times, reportUri, reportHtmlUri }), JSON_TYPE);
      const evaluationDetail = await readEvaluationDetail(store, input.result.evaluation.evalUri);
      await store.put(keys.reportHtml, renderReportHtml(input.result, times, data, evaluationDetail), { contentType: 'text/html' });
      return { reportUri, reportHtmlUri };
    },
  };
}
