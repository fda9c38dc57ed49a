/**
 * The custom training loop behind TfjsEngine.train: one optimizer.minimize per batch (no
 * model.fit callbacks or per-batch logs), a shuffle order, dropout masks and (optionally)
 * augmented images derived from (seed, epoch, batch or position) so a resumed run replays the
 * uninterrupted one, and a checkpoint handed to the caller after every epoch.
 */
import * as tf from '@tensorflow/tfjs';
import { isIdentityPolicy, onlineSeed, validatePolicy } from '../data/augment.js';
import { buildModel, validateModelSpec } from './build-model.js';
import type { Checkpoint, EpochReport, ImageBatchSource, TrainOutcome, TrainRequest, TrainSpec } from './engine.js';
import { BatchAssembler, validateSource } from './image-batches.js';
import { countCorrect, sparseSoftmaxCrossEntropy } from './losses.js';
import { modelFromBytes, modelToBytes } from './model-bytes.js';
import { type OptimizerSettings, createOptimizer, optimizerToBytes, restoreOptimizer } from './optimizer-bytes.js';
import { SeededDropout } from './seeded-dropout.js';
import { deriveSeed, seededPermutation } from './seeded-random.js';

/** Stream ids mixed into the run seed, so shuffling and dropout never share random numbers. */
const SHUFFLE_STREAM = 1;
const EVAL_BATCH = 256;

export interface TrainLoopOptions {
  /** Batches between onProgress calls. Defaults to 20. */
  progressEvery?: number;
}

export function validateTrainSpec(spec: TrainSpec): void {
  if (!Number.isInteger(spec.epochs) || spec.epochs < 1) throw new Error(`spec.epochs must be an integer >= 1, got ${spec.epochs}`);
  if (!Number.isInteger(spec.batchSize) || spec.batchSize < 1) throw new Error(`spec.batchSize must be an integer >= 1, got ${spec.batchSize}`);
  if (!(spec.learningRate > 0 && Number.isFinite(spec.learningRate))) throw new Error(`spec.learningRate must be a finite number > 0, got ${spec.learningRate}`);
  if (!Number.isInteger(spec.seed)) throw new Error(`spec.seed must be an integer, got ${spec.seed}`);
  const kind = spec.optimizer ?? 'adam';
  if (kind !== 'adam' && kind !== 'sgd') throw new Error(`spec.optimizer must be 'adam' or 'sgd', got ${JSON.stringify(spec.optimizer)}`);
}

function optimizerSettings(spec: TrainSpec): OptimizerSettings {
  return { kind: spec.optimizer ?? 'adam', learningRate: spec.learningRate, momentum: spec.optimizer === 'sgd' ? (spec.momentum ?? 0.9) : 0 };
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
  validateModelSpec(request.model);
  validateTrainSpec(spec);
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

  const model = resume === undefined ? buildModel(request.model, spec.seed) : await modelFromBytes(resume.model);
  let restored: tf.Optimizer | undefined;
  try {
    if (resume !== undefined) assertSameModel(model, request);
    restored = resume === undefined ? createOptimizer(settings) : await restoreOptimizer(resume.optimizer, settings);
    const optimizer = restored;
    // Optimizer slots are matched to variables by position in this list: keep the order fixed.
    const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const dropouts = model.layers.filter((l): l is SeededDropout => l instanceof SeededDropout);
    const batches = new BatchAssembler(train);
    const batchCount = Math.ceil(train.count / spec.batchSize);
    const history: EpochReport[] = [];
    let last: Checkpoint | undefined = resume;

    for (let epoch = (resume?.epoch ?? 0) + 1; epoch <= spec.epochs; epoch++) {
      const started = performance.now();
      const order = seededPermutation(train.count, deriveSeed(spec.seed, SHUFFLE_STREAM, epoch));
      let lossSum = 0;
      let correct = 0;
      for (let b = 0; b < batchCount; b++) {
        if (signal?.aborted === true) throw abortError(signal, epoch, b);
        const start = b * spec.batchSize;
        const count = Math.min(spec.batchSize, train.count - start);
        for (const d of dropouts) d.setStep((epoch - 1) * batchCount + b);
        const [loss, hits] = tf.tidy(() => {
          const xs = augment === undefined
            ? batches.images(start, count, order)
            : batches.augmentedImages(start, count, order, augment.policy, (position) => onlineSeed(augment.seed, epoch, position));
          const labels = batches.labels(start, count, order);
          let batchHits: tf.Scalar | undefined;
          const batchLoss = optimizer.minimize(() => {
            const logits = model.apply(xs, { training: true }) as tf.Tensor2D;
            batchHits = tf.keep(countCorrect(logits, labels));
            return sparseSoftmaxCrossEntropy(logits, labels);
          }, true, variables);
          if (batchLoss === null || batchHits === undefined) throw new Error('optimizer.minimize returned no loss');
          return [batchLoss, batchHits];
        });
        lossSum += loss.dataSync()[0]! * count;
        correct += hits.dataSync()[0]!;
        tf.dispose([loss, hits]);
        if ((b + 1) % progressEvery === 0 || b === batchCount - 1) request.onProgress?.({ epoch, batch: b + 1, batches: batchCount });
        await yieldToEventLoop();
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
      last = { epoch, model: await modelToBytes(model), optimizer: await optimizerToBytes(optimizer, settings) };
      history.push(report);
      await request.onEpochEnd(report, last);
    }
    return { model: last?.model ?? await modelToBytes(model), history, paramsCount: model.countParams() };
  } finally {
    restored?.dispose();
    model.dispose();
  }
}
