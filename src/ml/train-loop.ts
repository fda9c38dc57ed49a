/**
 * The custom training loop behind TfjsEngine.train: one optimizer step per batch (no
 * model.fit callbacks or per-batch logs), a shuffle order, dropout masks and (optionally)
 * augmented images derived from (seed, epoch, batch or position) so a resumed run replays the
 * uninterrupted one, and a checkpoint handed to the caller after every epoch.
 *
 * The recipe, per step: the training loss (cross-entropy, optionally label-smoothed, or focal;
 * losses.ts) and its gradients; a non-finite loss stops the run with a TrainingDivergedError
 * before any weight changes; L2 weight decay added to the gradients ('adam', 'sgd'); clipping by
 * global norm; the scheduled learning rate for this global step (schedule.ts); the optimizer
 * step; decoupled weight decay ('adamw'; weight-decay.ts).
 *
 * Per epoch: validation (val_loss is always plain cross-entropy, whatever the training loss, so
 * that recipes compare on one yardstick), early stopping, a finite-weights check, then the
 * checkpoint (weights, plus optimizer state, schedule position and early-stopping state;
 * train-state.ts).
 *
 * With early stopping the outcome's model is the best epoch's (by the monitored metric), kept
 * as bytes; the history lists every epoch that ran.
 *
 * With `stopAfterEpoch` the loop ends after that epoch's checkpoint, with that epoch's weights
 * as the model (or the best epoch's, with early stopping); a later request resuming from the
 * checkpoint continues the same schedule, so rung-by-rung training equals one straight run.
 *
 * Transfer learning (ModelSpec.backbone; transfer.ts): a fresh run builds the cut, frozen
 * backbone plus a new head. Before every epoch the trainable set is set from (spec, epoch)
 * (TrainSpec.unfreeze); with unfreeze steps each parameter group steps its own optimizer at
 * `learningRateScale` times the scheduled rate, and the checkpoint holds all groups' optimizer
 * states ('DVG1'), so a resume across an unfreeze boundary is exact. Weight decay and gradient
 * clipping see only the variables that train in that epoch (clipping by their global norm).
 */
import * as tf from '@tensorflow/tfjs';
import { isIdentityPolicy, onlineSeed, validatePolicy } from '../data/augment.js';
import { buildModel, validateModelSpec } from './build-model.js';
import type { Checkpoint, EpochReport, ImageBatchSource, TrainOutcome, TrainRequest, TrainSpec } from './engine.js';
import {
  type TrainableGroup, applyTrainable, buildTransferModel, freezeBatchNormStatistics, groupOptimizersToBytes, groupWeights,
  planUnfreezing, restoreGroupOptimizers, validateModelSpecWithBackbone, validateUnfreeze,
} from './transfer.js';
import { BatchAssembler, validateSource } from './image-batches.js';
import { type EarlyStoppingState, INITIAL_EARLY_STOPPING, observeEpoch, validateEarlyStopping } from './early-stopping.js';
import { countCorrect, sparseSoftmaxCrossEntropy, trainingLoss, validateLoss } from './losses.js';
import { modelFromBytes, modelToBytes } from './model-bytes.js';
import { type OptimizerSettings, createOptimizer, optimizerToBytes, restoreOptimizer, setLearningRate } from './optimizer-bytes.js';
import { learningRateAt, validateSchedule } from './schedule.js';
import { SeededDropout } from './seeded-dropout.js';
import { deriveSeed, seededPermutation } from './seeded-random.js';
import { decodeTrainState, encodeTrainState } from './train-state.js';
import { addL2, applyDecoupledDecay, clipByGlobalNorm, decays } from './weight-decay.js';

/** Stream ids mixed into the run seed, so shuffling and dropout never share random numbers. */
const SHUFFLE_STREAM = 1;
const EVAL_BATCH = 256;

/** What one optimizer step did; for tests and diagnostics. */
export interface StepInfo {
  epoch: number;
  /** 0-based batch within the epoch. */
  batch: number;
  /** 0-based global step over the run. */
  step: number;
  learningRate: number;
  loss: number;
}

export interface TrainLoopOptions {
  /** Batches between onProgress calls. Defaults to 20. */
  progressEvery?: number;
  /** Called after every optimizer step. */
  onStep?: (info: StepInfo) => void;
}

/**
 * The loss (or the weights) stopped being finite. Non-retryable: a retry from the last good
 * checkpoint would replay the same steps and diverge again.
 */
export class TrainingDivergedError extends Error {
  override readonly name = 'TrainingDivergedError';

  constructor(
    message: string,
    readonly epoch: number,
    /** 1-based global step (batch of the whole run) that diverged; StepInfo.step is 0-based. */
    readonly step: number,
    /** Epoch of the last checkpoint with finite weights; 0 when none was written. */
    readonly lastGoodEpoch: number,
  ) {
    super(message);
  }
}

function lastGood(epoch: number): string {
  return epoch > 0 ? `the last good checkpoint is epoch ${epoch}` : 'no checkpoint was written before it';
}

export function validateTrainSpec(spec: TrainSpec): void {
  if (!Number.isInteger(spec.epochs) || spec.epochs < 1) throw new Error(`spec.epochs must be an integer >= 1, got ${spec.epochs}`);
  if (!Number.isInteger(spec.batchSize) || spec.batchSize < 1) throw new Error(`spec.batchSize must be an integer >= 1, got ${spec.batchSize}`);
  if (!(spec.learningRate > 0 && Number.isFinite(spec.learningRate))) throw new Error(`spec.learningRate must be a finite number > 0, got ${spec.learningRate}`);
  if (!Number.isInteger(spec.seed)) throw new Error(`spec.seed must be an integer, got ${spec.seed}`);
  const kind = spec.optimizer ?? 'adam';
  if (kind !== 'adam' && kind !== 'adamw' && kind !== 'sgd') throw new Error(`spec.optimizer must be 'adam', 'adamw' or 'sgd', got ${JSON.stringify(spec.optimizer)}`);
  if (spec.momentum !== undefined && !(spec.momentum >= 0 && spec.momentum < 1)) throw new Error(`spec.momentum must be in [0, 1), got ${spec.momentum}`);
  if (spec.nesterov === true && kind !== 'sgd') throw new Error(`spec.nesterov applies to the 'sgd' optimizer, got optimizer ${JSON.stringify(kind)}`);
  if (spec.nesterov === true && spec.momentum === 0) throw new Error('spec.nesterov needs spec.momentum > 0');
  if (spec.weightDecay !== undefined && !(spec.weightDecay >= 0 && Number.isFinite(spec.weightDecay))) {
    throw new Error(`spec.weightDecay must be a finite number >= 0, got ${spec.weightDecay}`);
  }
  if (spec.clipNorm !== undefined && !(spec.clipNorm > 0 && Number.isFinite(spec.clipNorm))) {
    throw new Error(`spec.clipNorm must be a finite number > 0, got ${spec.clipNorm}`);
  }
  if (spec.loss !== undefined) validateLoss(spec.loss);
  if (spec.schedule !== undefined) validateSchedule(spec.schedule, spec.epochs, spec.learningRate);
  if (spec.earlyStopping !== undefined) validateEarlyStopping(spec.earlyStopping);
  if (spec.stopAfterEpoch !== undefined && !(Number.isInteger(spec.stopAfterEpoch) && spec.stopAfterEpoch >= 1 && spec.stopAfterEpoch <= spec.epochs)) {
    throw new Error(`spec.stopAfterEpoch must be an integer from 1 to spec.epochs (${spec.epochs}), got ${spec.stopAfterEpoch}`);
  }
  if (spec.unfreeze !== undefined) {
    if (!Array.isArray(spec.unfreeze)) throw new Error('spec.unfreeze must be an array of unfreeze steps');
    validateUnfreeze(spec.unfreeze, spec.epochs);
  }
}

/** The variables one optimizer steps in an epoch, at `scale` times the scheduled learning rate. */
interface ParamGroup {
  optimizer: tf.Optimizer;
  scale: number;
  variables: tf.Variable[];
  decayMask: boolean[];
}

function paramGroup(optimizer: tf.Optimizer, scale: number, weights: tf.LayerVariable[]): ParamGroup {
  const variables = weights.map((w) => w.read() as tf.Variable);
  return { optimizer, scale, variables, decayMask: weights.map((w, i) => decays(w.originalName, variables[i]!.shape)) };
}

function optimizerSettings(spec: TrainSpec): OptimizerSettings {
  const sgd = spec.optimizer === 'sgd';
  return {
    kind: spec.optimizer ?? 'adam',
    learningRate: spec.learningRate,
    momentum: sgd ? (spec.momentum ?? 0.9) : 0,
    nesterov: sgd && spec.nesterov === true,
  };
}

/** Name of the first trainable variable holding a NaN or an infinity, if any. */
function firstNonFinite(variables: tf.Variable[]): string | undefined {
  for (const v of variables) {
    const values = v.dataSync();
    for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return v.name;
  }
  return undefined;
}

function abortError(signal: AbortSignal, epoch: number, batch: number): Error {
  const error = new Error(`training aborted before epoch ${epoch}, batch ${batch + 1}`, { cause: signal.reason });
  error.name = 'AbortError';
  return error;
}

/** Lets timers, heartbeats and abort events run between synchronous training steps. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Mean loss and accuracy of `model` on `source` (inference mode). */
export function evaluate(model: tf.LayersModel, source: ImageBatchSource): { loss: number; accuracy: number } {
  const batches = new BatchAssembler(source);
  let lossSum = 0;
  let correct = 0;
  for (let start = 0; start < source.count; start += EVAL_BATCH) {
    const count = Math.min(EVAL_BATCH, source.count - start);
    const [loss, hits] = tf.tidy(() => {
      const logits = model.apply(batches.images(start, count), { training: false }) as tf.Tensor2D;
      const labels = batches.labels(start, count);
      return [sparseSoftmaxCrossEntropy(logits, labels), countCorrect(logits, labels)];
    });
    lossSum += loss.dataSync()[0]! * count;
    correct += hits.dataSync()[0]!;
    tf.dispose([loss, hits]);
  }
  return { loss: lossSum / source.count, accuracy: correct / source.count };
}

function assertSameModel(model: tf.LayersModel, request: TrainRequest): void {
  const inShape = model.inputs[0]?.shape.slice(1);
  const outShape = model.outputs[0]?.shape.slice(1);
  const expected = request.model.inputShape;
  if (inShape === undefined || inShape.join(',') !== expected.join(',') || outShape?.[0] !== request.model.numClasses) {
    throw new Error(`resume checkpoint holds a model for input [${inShape?.join(', ')}] and ${outShape?.[0]} classes, `
      + `but the run asks for input [${expected.join(', ')}] and ${request.model.numClasses} classes`);
  }
}

export async function runTraining(request: TrainRequest, options: TrainLoopOptions = {}): Promise<TrainOutcome> {
  const { spec, train, val, resume, signal } = request;
  if (request.model.backbone !== undefined) validateModelSpecWithBackbone(request.model);
  else validateModelSpec(request.model);
  validateTrainSpec(spec);
  const grouped = (spec.unfreeze?.length ?? 0) > 0;
  if (spec.unfreeze !== undefined && request.model.backbone === undefined) throw new Error('spec.unfreeze needs model.backbone');
  validateSource(train, 'train', request.model.inputShape, request.model.numClasses);
  if (val !== undefined) validateSource(val, 'val', request.model.inputShape, request.model.numClasses);
  if (resume !== undefined && !(Number.isInteger(resume.epoch) && resume.epoch >= 0)) {
    throw new Error(`resume.epoch must be an integer >= 0, got ${resume.epoch}`);
  }
  if (request.augment !== undefined) {
    validatePolicy(request.augment.policy, 'augment.policy');
    if (!Number.isSafeInteger(request.augment.seed)) throw new Error(`augment.seed must be a safe integer, got ${request.augment.seed}`);
  }
  const augment = request.augment !== undefined && !isIdentityPolicy(request.augment.policy) ? request.augment : undefined;
  const progressEvery = options.progressEvery ?? 20;
  const settings = optimizerSettings(spec);
  if (spec.earlyStopping !== undefined && val === undefined) {
    throw new Error('spec.earlyStopping needs validation data (val), which this run does not have');
  }
  const batchCount = Math.ceil(train.count / spec.batchSize);
  const resumed = resume === undefined ? undefined : decodeTrainState(resume.optimizer, resume.epoch, batchCount, spec.seed);
  if (resume !== undefined && resumed !== undefined) {
    if (resumed.stepsPerEpoch !== batchCount || resumed.step !== resume.epoch * batchCount) {
      throw new Error(`resume checkpoint was written at step ${resumed.step} with ${resumed.stepsPerEpoch} batches per epoch, but this run has `
        + `${batchCount} batches per epoch (${train.count} images in batches of ${spec.batchSize}), so epoch ${resume.epoch} ends at step ${resume.epoch * batchCount}`);
    }
    if (resumed.seed !== spec.seed) throw new Error(`resume checkpoint was written with seed ${resumed.seed}, but the run asks for seed ${spec.seed}`);
  }
  const weightDecay = spec.weightDecay ?? 0;
  const decoupled = settings.kind === 'adamw';

  const backbone = request.model.backbone;
  const model = resume !== undefined
    ? await modelFromBytes(resume.model)
    : backbone !== undefined
      ? await buildTransferModel(request.model, spec.seed, { read: request.readBackboneFile })
      : buildModel(request.model, spec.seed);
  let optimizers: tf.Optimizer[] = [];
  try {
    if (resume !== undefined) assertSameModel(model, request);
    // Transfer models: the trainable layers per epoch (head first, then unfreeze groups).
    const plan: TrainableGroup[] | undefined = backbone !== undefined ? planUnfreezing(model, spec.unfreeze) : undefined;
    if (backbone !== undefined) freezeBatchNormStatistics(model);
    if (grouped) optimizers = await restoreGroupOptimizers(resumed?.optimizer, plan!.length, settings);
    else optimizers = [resumed === undefined ? createOptimizer(settings) : await restoreOptimizer(resumed.optimizer, settings)];
    const optimizer = optimizers[0]!;
    /**
     * The parameter groups that train in `epoch`. Optimizer slots are matched to variables by
     * position in each group's list: the lists depend on the model and (spec, epoch) only.
     */
    const groupsAt = (epoch: number): ParamGroup[] => {
      if (plan !== undefined) applyTrainable(model, plan, epoch);
      if (!grouped || plan === undefined) return [paramGroup(optimizer, 1, model.trainableWeights)];
      return plan.flatMap((g, i) => (epoch >= g.fromEpoch && groupWeights(g).length > 0 ? [paramGroup(optimizers[i]!, g.learningRateScale, groupWeights(g))] : []));
    };
    const dropouts = model.layers.filter((l): l is SeededDropout => l instanceof SeededDropout);
    const batches = new BatchAssembler(train);
    const history: EpochReport[] = [];
    let last: Checkpoint | undefined = resume;
    let stopping: EarlyStoppingState | undefined = spec.earlyStopping === undefined ? undefined : (resumed?.earlyStopping ?? INITIAL_EARLY_STOPPING);
    /** The best epoch's model bytes, when early stopping is on and they are not `last.model`. */
    let bestModel: Uint8Array | undefined = stopping !== undefined ? resumed?.bestModel : undefined;

    // The schedule always spans spec.epochs; stopAfterEpoch only ends this request early.
    const stopEpoch = spec.stopAfterEpoch ?? spec.epochs;
    for (let epoch = (resume?.epoch ?? 0) + 1; epoch <= stopEpoch && stopping?.stopped !== true; epoch++) {
      const started = performance.now();
      const groups = groupsAt(epoch);
      const variables = groups.flatMap((g) => g.variables);
      const decayMask = groups.flatMap((g) => g.decayMask);
      const order = seededPermutation(train.count, deriveSeed(spec.seed, SHUFFLE_STREAM, epoch));
      let lossSum = 0;
      let correct = 0;
      for (let b = 0; b < batchCount; b++) {
        if (signal?.aborted === true) throw abortError(signal, epoch, b);
        const start = b * spec.batchSize;
        const count = Math.min(spec.batchSize, train.count - start);
        const step = (epoch - 1) * batchCount + b;
        const learningRate = learningRateAt(spec, step, batchCount);
        for (const d of dropouts) d.setStep(step);
        let lossValue = NaN;
        const hits = tf.tidy(() => {
          const xs = augment === undefined
            ? batches.images(start, count, order)
            : batches.augmentedImages(start, count, order, augment.policy, (position) => onlineSeed(augment.seed, epoch, position));
          const labels = batches.labels(start, count, order);
          let batchHits: tf.Scalar | undefined;
          const { value, grads } = optimizer.computeGradients(() => {
            const logits = model.apply(xs, { training: true }) as tf.Tensor2D;
            batchHits = tf.keep(countCorrect(logits, labels));
            return trainingLoss(spec.loss, logits, labels);
          }, variables);
          if (batchHits === undefined) throw new Error('the training step computed no accuracy');
          lossValue = value.dataSync()[0]!;
          // A non-finite loss must not reach the weights: the caller stops before this step applies.
          if (!Number.isFinite(lossValue)) return batchHits;
          let gradients = variables.map((v) => {
            const g = grads[v.name];
            if (g === undefined) throw new Error(`no gradient for trainable variable ${v.name}`);
            return g;
          });
          if (!decoupled) gradients = addL2(gradients, variables, decayMask, weightDecay);
          if (spec.clipNorm !== undefined) gradients = clipByGlobalNorm(gradients, spec.clipNorm);
          let offset = 0;
          for (const g of groups) {
            const rate = learningRate * g.scale;
            setLearningRate(g.optimizer, rate);
            g.optimizer.applyGradients(g.variables.map((v, i) => ({ name: v.name, tensor: gradients[offset + i]! })));
            if (decoupled) applyDecoupledDecay(g.variables, g.decayMask, rate, weightDecay);
            offset += g.variables.length;
          }
          return batchHits;
        });
        const batchCorrect = hits.dataSync()[0]!;
        hits.dispose();
        if (!Number.isFinite(lossValue)) {
          const lastEpoch = last?.epoch ?? 0;
          throw new TrainingDivergedError(
            `training diverged: the loss is ${lossValue} at epoch ${epoch}, step ${step + 1} (batch ${b + 1} of ${batchCount}, `
              + `learning rate ${learningRate}); ${lastGood(lastEpoch)}. Lower the learning rate or set clipNorm.`,
            epoch, step + 1, lastEpoch);
        }
        options.onStep?.({ epoch, batch: b, step, learningRate, loss: lossValue });
        lossSum += lossValue * count;
        correct += batchCorrect;
        if ((b + 1) % progressEvery === 0 || b === batchCount - 1) request.onProgress?.({ epoch, batch: b + 1, batches: batchCount });
        await yieldToEventLoop();
      }
      const badVariable = firstNonFinite(variables);
      if (badVariable !== undefined) {
        const lastEpoch = last?.epoch ?? 0;
        throw new TrainingDivergedError(
          `training diverged: weights of ${badVariable} are not finite after epoch ${epoch}, step ${epoch * batchCount}; `
            + `${lastGood(lastEpoch)}. Lower the learning rate or set clipNorm.`,
          epoch, epoch * batchCount, lastEpoch);
      }
      const trainSeconds = (performance.now() - started) / 1000;
      const report: EpochReport = {
        epoch,
        loss: lossSum / train.count,
        accuracy: correct / train.count,
        imagesPerSecond: train.count / trainSeconds,
        seconds: 0,
      };
      if (val !== undefined) {
        const metrics = evaluate(model, val);
        report.valLoss = metrics.loss;
        report.valAccuracy = metrics.accuracy;
      }
      report.seconds = (performance.now() - started) / 1000;
      const modelBytes = await modelToBytes(model);
      if (stopping !== undefined && spec.earlyStopping !== undefined) {
        const observed = observeEpoch(spec.earlyStopping, stopping, report);
        // The best epoch's bytes are kept only while it is not the latest checkpoint's own model.
        if (observed.improved) bestModel = undefined;
        else if (stopping.bestEpoch === last?.epoch && bestModel === undefined) bestModel = last.model;
        stopping = observed.state;
      }
      const state = encodeTrainState({
        step: epoch * batchCount,
        stepsPerEpoch: batchCount,
        seed: spec.seed,
        optimizer: grouped ? await groupOptimizersToBytes(optimizers, settings) : await optimizerToBytes(optimizer, settings),
        ...(stopping !== undefined ? { earlyStopping: stopping } : {}),
        ...(bestModel !== undefined ? { bestModel } : {}),
      });
      last = { epoch, model: modelBytes, optimizer: state };
      history.push(report);
      await request.onEpochEnd(report, last);
    }
    const finalModel = bestModel ?? last?.model ?? await modelToBytes(model);
    return { model: finalModel, history, paramsCount: model.countParams() };
  } finally {
    for (const o of optimizers) o.dispose();
    model.dispose();
  }
}
