/**
 * The training engine contract. Engines are free of storage and Temporal: activities feed them
 * in-memory datasets and persist the bytes they hand back.
 */
import type { AugmentationPolicy } from '../core/config.js';
import type { EpochMetrics } from '../core/manifests.js';

/** Pixels as stored in shards: uint8, NHWC, `count * height * width * channels` bytes. */
export interface ImageBatchSource {
  images: Uint8Array;
  labels: Int32Array;
  count: number;
  /** [height, width, channels] */
  shape: [number, number, number];
  /** How uint8 pixels become model inputs. '0-1': x/255. '-1-1': x/127.5-1. */
  scaling: PixelScaling;
}

export type PixelScaling = '0-1' | '-1-1';

/** Architectures the model builders know. */
export const ARCHITECTURE_NAMES = ['small-cnn', 'mobilenet-v3-small', 'mobilenet-v3-large', 'resnet-18', 'resnet-50', 'efficientnet-b0', 'vit-tiny'] as const;
export type ArchitectureName = (typeof ARCHITECTURE_NAMES)[number];

export interface ModelSpec {
  architecture: ArchitectureName;
  /** [height, width, channels] */
  inputShape: [number, number, number];
  numClasses: number;
  /** Scales every layer's filter count (channel width). Defaults to 1. */
  widthMultiplier?: number;
  /** Dropout before the classifier. Defaults per architecture (0.25 for small-cnn). */
  dropout?: number;
  /** ViT patch size in pixels; the input sides must be multiples of it. Defaults to 16 (4 below 64 px). */
  patchSize?: number;
}

/** Training loss on logits. */
export type LossSpec =
  | { kind: 'cross-entropy'; /** 0 = hard targets; 0.1 is typical. */ labelSmoothing?: number }
  | { kind: 'focal'; /** Class-balance weight of the positive term. Defaults to 0.25. */ alpha?: number; /** Focusing exponent. Defaults to 2. */ gamma?: number };

/** Learning-rate schedule over the whole run, evaluated per step (batch). */
export type ScheduleSpec =
  | { kind: 'constant'; warmupEpochs?: number }
  | { kind: 'cosine'; /** Linear warmup from ~0 over this many epochs first. */ warmupEpochs?: number; /** Final learning rate. Defaults to 0. */ minLearningRate?: number }
  | { kind: 'step'; warmupEpochs?: number; /** Multiply by `gamma` every `stepEpochs` epochs. */ stepEpochs: number; gamma: number };

export interface EarlyStoppingSpec {
  /** Epochs without improvement before stopping. */
  patience: number;
  /** Smallest change that counts as improvement. Defaults to 0. */
  minDelta?: number;
  /** Defaults to 'val_loss'. */
  monitor?: 'val_loss' | 'val_accuracy';
}

export interface TrainSpec {
  epochs: number;
  batchSize: number;
  /** Peak learning rate (after warmup). */
  learningRate: number;
  /** Defaults to 'adam'. 'adamw' decouples weight decay from the gradient. */
  optimizer?: 'adam' | 'adamw' | 'sgd';
  /** For 'sgd'. Defaults to 0.9. */
  momentum?: number;
  /** For 'sgd'. Defaults to false. */
  nesterov?: boolean;
  /** L2 weight decay (decoupled for 'adamw'). Defaults to 0. */
  weightDecay?: number;
  /** Defaults to cross-entropy without smoothing. */
  loss?: LossSpec;
  /** Defaults to constant. */
  schedule?: ScheduleSpec;
  /** Clip the global gradient norm to this value. Unset = no clipping. */
  clipNorm?: number;
  earlyStopping?: EarlyStoppingSpec;
  /** Seeds weight init and batch shuffling. */
  seed: number;
}

/** A model with weights, as one self-describing byte buffer (topology + weight specs + data). */
export type ModelBytes = Uint8Array;

export interface Checkpoint {
  /** Number of finished epochs this checkpoint holds. */
  epoch: number;
  model: ModelBytes;
  /** Optimizer state (slots, iteration count), so a resumed run continues the same descent. */
  optimizer: Uint8Array;
}

/** One finished epoch's figures; the same shape travels in the pipeline's manifests. */
export type EpochReport = EpochMetrics;

export interface TrainRequest {
  model: ModelSpec;
  spec: TrainSpec;
  train: ImageBatchSource;
  val?: ImageBatchSource;
  /** Continue from here instead of from fresh weights. */
  resume?: Checkpoint;
  /**
   * Online augmentation of training batches (never of `val`). Image at position p of epoch e's
   * shuffled order is augmented with a generator seeded from (seed, e, p), so a resumed run
   * sees the same augmented images as an uninterrupted one. An identity policy is a no-op.
   */
  augment?: { policy: AugmentationPolicy; seed: number };
  /** Called after every epoch with the checkpoint to persist; training waits for it. */
  onEpochEnd: (report: EpochReport, checkpoint: Checkpoint) => Promise<void>;
  /** Called every few batches (and after an epoch's last batch) so callers can heartbeat. */
  onProgress?: (p: { epoch: number; batch: number; batches: number }) => void;
  /**
   * Aborting stops training at the next batch boundary with an Error named 'AbortError'
   * whose `cause` is the signal's reason.
   */
  signal?: AbortSignal;
}

export interface TrainOutcome {
  model: ModelBytes;
  history: EpochReport[];
  paramsCount: number;
}

export interface InferenceBenchmark {
  /** Images per second at the given batch size. */
  throughputImgPerS: number;
  batchSize: number;
  /** Batch-1 latency. */
  latencyMs: { p50: number; p95: number; mean: number };
  /** Timed batch-1 runs behind latencyMs. */
  iterations: number;
}

export interface TrainingEngine {
  readonly name: string;
  /** The backend actually in use (e.g. 'wasm', 'tensorflow', 'cpu'); 'uninitialised' before the first one starts. */
  backend(): string;
  paramsCount(model: ModelSpec): Promise<number>;
  train(request: TrainRequest): Promise<TrainOutcome>;
  /** Class probabilities, `count * numClasses`, row-major. */
  predict(model: ModelBytes, data: ImageBatchSource, batchSize?: number): Promise<Float32Array>;
  benchmark(model: ModelBytes, data: ImageBatchSource, options?: { batchSize?: number; seconds?: number }): Promise<InferenceBenchmark>;
}
