import { Context } from '@temporalio/activity';
import type { EpochMetrics, TrainResult, ValidationReport } from '../core/manifests.js';
import { deploymentVerdicts } from '../core/gates.js';
import { readShards } from '../data/shards.js';
import { initBackend } from '../ml/backend.js';
import type { ModelSpec, TrainingEngine } from '../ml/engine.js';
import type { EngineChoice } from '../ml/torch-select.js';
import { isTorchModel } from '../ml/torch-model-bytes.js';
import { benchmarkOnnx } from '../ml/onnx-benchmark.js';
import { type OnnxExporter, exportOnnxBytes } from '../ml/onnx-deploy.js';
import { backboneFileReader, backboneSpec, createModelPlanner } from './cpu-activities.js';
import { epochProgressSignal } from '../workflows/pipeline-workflow.js';
import { decodeCheckpoint, encodeCheckpoint, type StoredCheckpoint } from './checkpoint-codec.js';
import type { Logger } from './logger.js';
import { runKeys } from './run-keys.js';
import type { StoreCache } from './store-cache.js';
import type { GpuActivities, TrainModelInput, ValidateModelInput } from './types.js';

export interface GpuActivityDeps {
  stores: StoreCache;
  engine: TrainingEngine;
  logger: Logger;
  /**
   * The engine that trains a run whose config names `configured` (tfjs, torch, auto); the
   * worker's own choice may override it (torch-select.ts). Defaults to `engine`.
   */
  selectTrainingEngine?: (configured: EngineChoice) => Promise<TrainingEngine>;
  /** Exports a torch-engine model to ONNX, so phase 5 benchmarks it on onnxruntime-node. */
  exportOnnx?: OnnxExporter;
}

/** What a training attempt heartbeats; a retried attempt resumes from `checkpointUri`. */
export interface TrainingHeartbeat {
  epoch: number;
  checkpointUri?: string;
  batch?: number;
  batches?: number;
}

export function createGpuActivities({ stores, engine, logger, selectTrainingEngine, exportOnnx }: GpuActivityDeps): GpuActivities {
  /**
   * The newest checkpoint of the run. The last attempt's heartbeat names one, but a worker killed
   * right after writing a checkpoint may not have delivered the heartbeat that names it, so the
   * store is listed too and the newer of the two wins: a finished epoch is never trained again.
   */
  async function findResumePoint(input: TrainModelInput): Promise<{ uri: string; checkpoint: StoredCheckpoint } | undefined> {
    const store = stores.open(input.storeUri);
    const keys = runKeys(input.runId);
    const details = Context.current().info.heartbeatDetails as TrainingHeartbeat | undefined;
    const fromHeartbeat = details?.checkpointUri ? store.keyOf(details.checkpointUri) : undefined;
    const found = await store.list(keys.checkpointsPrefix);
    const newest = found.filter((a) => a.key.endsWith('.ckpt')).map((a) => a.key).sort().at(-1);
    // Checkpoint keys carry a zero-padded epoch, so the greater key is the later epoch.
    const key = [fromHeartbeat, newest].filter((k): k is string => k !== undefined).sort().at(-1);
    if (!key) return undefined;
    const uri = store.uriOf(key);
    return { uri, checkpoint: decodeCheckpoint(await store.get(key), uri) };
  }

  const planModel = createModelPlanner({ stores, engine, logger });
  const activities: GpuActivities = {
    async trainModel(input) {
      const ctx = Context.current();
      const store = stores.open(input.storeUri);
      const keys = runKeys(input.runId);
      const t = input.training;
      const trainer = selectTrainingEngine !== undefined ? await selectTrainingEngine(t.engine) : engine;
      // The tfjs backend is chosen per run; the torch engine reports the device its child uses.
      const backend = trainer.name === 'tfjs' ? await initBackend(t.backend) : trainer.backend();
      const bf16 = t.precision === 'bf16' && trainer.name === 'torch' && /cuda/i.test(backend);
      if (t.precision === 'bf16' && !bf16) {
        logger.warn(`training.precision bf16 needs the torch engine on a CUDA card; the ${trainer.name} engine on ${backend} trains in fp32`, { runId: input.runId });
      }
      const resume = await findResumePoint(input);
      const attempt = ctx.info.attempt;
      // A local activity (a sweep rung with sweep.trialExecution local-activity) cannot heartbeat.
      const beat = (details: TrainingHeartbeat): void => {
        if (!ctx.info.isLocal) ctx.heartbeat(details);
      };
      const resumedFromEpoch = resume?.checkpoint.epoch ?? 0;
      logger.info(resume ? `training resumes from epoch ${resumedFromEpoch}` : 'training starts', {
        runId: input.runId,
        attempt,
        engine: trainer.name,
        backend,
        ...(bf16 ? { precision: 'bf16' } : {}),
        checkpoint: resume?.uri,
      });

      const history: EpochMetrics[] = [...(resume?.checkpoint.history ?? [])];
      const checkpointUris: string[] = history.map((h) => store.uriOf(keys.checkpoint(h.epoch)));
      let heartbeat: TrainingHeartbeat = { epoch: resumedFromEpoch, checkpointUri: resume?.uri };
      beat(heartbeat);

      const spec: ModelSpec = {
        architecture: input.plan.architecture as ModelSpec['architecture'],
        inputShape: input.plan.inputShape,
        numClasses: input.plan.numClasses,
        widthMultiplier: input.plan.widthMultiplier,
        dropout: input.plan.dropout,
        ...(input.plan.patchSize !== undefined ? { patchSize: input.plan.patchSize } : {}),
      };
      const backbone = backboneSpec(input.plan.backbone);
      if (backbone !== undefined) spec.backbone = backbone;
      if (t.unfreeze !== undefined && t.unfreeze.length > 0 && backbone === undefined) {
        throw new Error('training.unfreeze needs model.backbone, and the model plan has none');
      }
      const [train, val] = await Promise.all([readShards(store, input.dataset.splits.train.indexUri), readShards(store, input.dataset.splits.val.indexUri)]);

      // A sweep rung stops early; the schedule still spans t.epochs.
      const stopAfterEpoch = input.stopAfterEpoch === undefined ? undefined : Math.min(input.stopAfterEpoch, t.epochs);
      let finalModel: Uint8Array;
      // With early stopping the engine decides which epoch's weights are final (the best), so
      // only a plain run may take the last checkpoint as the model directly.
      if (resume && resume.checkpoint.epoch >= (stopAfterEpoch ?? t.epochs) && !t.earlyStopping) {
        // Every epoch finished before the crash; only the final write was lost.
        finalModel = resume.checkpoint.model;
      } else {
        const outcome = await trainer.train({
          model: spec,
          spec: {
            epochs: t.epochs,
            batchSize: t.batchSize,
            learningRate: t.learningRate,
            optimizer: t.optimizer,
            momentum: t.momentum,
            nesterov: t.nesterov,
            weightDecay: t.weightDecay,
            loss: t.loss,
            schedule: t.schedule,
            ...(t.clipNorm !== undefined ? { clipNorm: t.clipNorm } : {}),
            ...(t.earlyStopping ? { earlyStopping: t.earlyStopping } : {}),
            seed: t.seed,
            ...(t.precision === 'bf16' ? { precision: t.precision } : {}),
            ...(stopAfterEpoch !== undefined ? { stopAfterEpoch } : {}),
            ...(t.unfreeze !== undefined && t.unfreeze.length > 0
              ? { unfreeze: t.unfreeze.map((u) => ({ afterEpochs: u.afterEpochs, layers: u.layers, learningRateScale: u.learningRateScale })) }
              : {}),
          },
          ...(backbone !== undefined ? { readBackboneFile: backboneFileReader(stores) } : {}),
          train,
          val: val.count > 0 ? val : undefined,
          resume: resume?.checkpoint,
          ...(input.dataset.augmentation?.online ? { augment: { policy: input.dataset.augmentation.policy, seed: input.dataset.augmentation.seed } } : {}),
          signal: ctx.cancellationSignal,
          onProgress: (p) => {
            beat({ ...heartbeat, batch: p.batch, batches: p.batches });
          },
          onEpochEnd: async (report, checkpoint) => {
            const metrics: EpochMetrics = { ...report };
            history.push(metrics);
            const info = await store.put(keys.checkpoint(report.epoch), encodeCheckpoint({ ...checkpoint, history }));
            checkpointUris.push(info.uri);
            heartbeat = { epoch: report.epoch, checkpointUri: info.uri };
            beat(heartbeat);
            logger.info(`epoch ${report.epoch}/${t.epochs}`, { runId: input.runId, ...metrics });
            if (input.progressWorkflowId) {
              // Progress is advisory: a failed signal must not fail the training.
              await ctx.client.workflow
                .getHandle(input.progressWorkflowId)
                .signal(epochProgressSignal, { attempt, epochs: t.epochs, metrics, checkpointUri: info.uri })
                .catch((err: unknown) => logger.warn('could not report epoch progress', { error: String(err) }));
            }
          },
        });
        finalModel = outcome.model;
      }

      const model = await store.put(keys.model, finalModel);
      // A torch model is stored as ONNX too, so a worker without PyTorch can still evaluate it.
      const onnx = trainer.name === 'torch' && exportOnnx !== undefined ? await store.put(`${keys.model}.onnx`, await exportOnnxBytes(finalModel, exportOnnx)) : undefined;
      const historyInfo = await store.put(keys.history, JSON.stringify(history, null, 2), { contentType: 'application/json' });
      // The best epoch by the metric early stopping watches (validation loss unless told otherwise).
      const byLoss = (t.earlyStopping?.monitor ?? 'val_accuracy') === 'val_loss';
      const score = (h: EpochMetrics) => (byLoss ? -(h.valLoss ?? h.loss) : (h.valAccuracy ?? h.accuracy));
      const best = history.reduce((b, h) => (score(h) > score(b) ? h : b), history[0] as EpochMetrics);
      const result: TrainResult = {
        modelUri: model.uri,
        checkpointUris,
        historyUri: historyInfo.uri,
        history,
        bestEpoch: best?.epoch ?? 0,
        epochsCompleted: history.length,
        resumedFromEpoch,
        attempts: attempt,
        engine: trainer.name,
        backend,
        ...(bf16 ? { precision: 'bf16' as const } : {}),
        ...(onnx !== undefined ? { onnxUri: onnx.uri } : {}),
      };
      return result;
    },

    async validateModel(input: ValidateModelInput): Promise<ValidationReport> {
      const ctx = Context.current();
      const store = stores.open(input.storeUri);
      const keys = runKeys(input.runId);
      const backend = await initBackend(input.backend);
      const model = await store.get(store.keyOf(input.training.modelUri));
      const test = await readShards(store, input.dataset.splits.test.indexUri);
      ctx.heartbeat();
      const benchOptions = { batchSize: input.validation.benchmarkBatchSize, seconds: input.validation.benchmarkSeconds };
      // A torch-engine model is measured as it would be deployed: exported to ONNX, run by onnxruntime-node.
      // Training stored the ONNX export already (TrainResult.onnxUri); for older runs it is made here.
      let onnxUri = isTorchModel(model) ? input.training.onnxUri : undefined;
      let onnx: Uint8Array | undefined;
      if (onnxUri !== undefined) onnx = await store.get(store.keyOf(onnxUri));
      else if (isTorchModel(model) && exportOnnx !== undefined) {
        onnx = await exportOnnxBytes(model, exportOnnx);
        onnxUri = (await store.put(`${store.keyOf(input.training.modelUri)}.onnx`, onnx)).uri;
      }
      const deployed = onnx !== undefined ? await benchmarkOnnx(onnx, test, benchOptions) : undefined;
      const bench = deployed ?? (await engine.benchmark(model, test, benchOptions));
      const peakRssMb = process.resourceUsage().maxRSS / 1024;
      const verdicts = deploymentVerdicts({ accuracy: input.evaluation.accuracy, latencyP95Ms: bench.latencyMs.p95 }, input.validation);
      const report = {
        throughputImgPerS: bench.throughputImgPerS,
        batchSize: bench.batchSize,
        latencyMs: bench.latencyMs,
        peakRssMb,
        backend: deployed?.runtime ?? backend,
        ...(onnxUri !== undefined ? { onnxUri } : {}),
        verdicts,
        blessed: verdicts.every((v) => v.passed),
      };
      const info = await store.put(keys.validation, JSON.stringify(report, null, 2), { contentType: 'application/json' });
      return { ...report, validationUri: info.uri };
    },

    async trainTrialRung(input) {
      const { runId, storeUri, dataset } = input;
      const plan = input.plan ?? (await planModel({ runId, storeUri, dataset, model: input.model }));
      const training = await activities.trainModel({ runId, storeUri, dataset, plan, training: input.training, stopAfterEpoch: input.stopAfterEpoch });
      return { plan, training };
    },
  };
  return activities;
}
