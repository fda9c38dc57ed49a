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
  /**
   * Transfer learning: the body is this pretrained tfjs layers model, cut at `cutLayer` and
   * frozen, and a new head (global average pooling for 4-D features, `dropout`, a dense layer
   * of `numClasses` logits) is trained on top; `architecture` and `widthMultiplier` are then not
   * used. `TrainSpec.unfreeze` opens backbone layers up later. See transfer.ts.
   */
  backbone?: BackboneSpec;
}

/** A pretrained tfjs layers model used as a frozen feature extractor (see ModelSpec.backbone). */
export interface BackboneSpec {
  /**
   * The model.json: a local path, a file:// URI, or any URI the run's `readBackboneFile`
   * resolves (e.g. s3://bucket/models/fashion/model.json). Weight shards are read from the
   * paths its weightsManifest names, relative to it.
   */
  uri: string;
  /** Name of the layer whose output feeds the head (e.g. 'out_relu' for MobileNetV2, 'fc1' for small-cnn). */
  cutLayer: string;
  /**
   * Only the cut layer and its ancestors are loaded, so layers past the cut (a classifier whose
   * shapes depend on the input size) never matter. When `ModelSpec.inputShape` differs from the
   * backbone's own input, the backbone is rebuilt for the new shape (convolutional weights fit
   * any size). Every weight of the kept layers must be stored, unless `strict` is false (missing
   * ones are then freshly initialised). Defaults to true.
   */
  strict?: boolean;
}

/**
 * One step of progressive unfreezing. From the epoch after `afterEpochs` finished epochs on
 * (afterEpochs 0 = from the first epoch) the chosen backbone layers train too, at
 * `learningRateScale` times the scheduled learning rate. Steps accumulate; a layer keeps the
 * scale of the earliest step that unfroze it. The trainable set and every layer's rate at epoch
 * e are a function of (spec, e) alone, so a resumed run matches an uninterrupted one.
 */
export interface UnfreezeStep {
  afterEpochs: number;
  /**
   * 'all': the whole backbone. A number N: the top N backbone layers that hold trainable weights
   * (counted from the cut downwards). `{ fromLayer }`: that backbone layer and every one after it.
   */
  layers: number | 'all' | { fromLayer: string };
  /** Multiplies the learning rate of the layers this step unfreezes. In (0, 1]; defaults to 1. */
  learningRateScale?: number;
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
  /**
   * Stop after this many finished epochs although the schedule spans `epochs` (sweeps train a
   * trial rung by rung: a later request with a higher value and `resume` set continues the same
   * descent). Unset = train all `epochs`.
   */
  stopAfterEpoch?: number;
  /**
   * Progressive unfreezing of `ModelSpec.backbone` (needs one). Each step's layers get their own
   * optimizer (Adam bias correction starts when they unfreeze; the step size is scaled exactly,
   * not by scaling gradients, which Adam would undo). See transfer.ts.
   */
  unfreeze?: UnfreezeStep[];
  /** 'bf16': autocast on engines and devices that have it (the torch engine on CUDA); fp32 elsewhere. */
  precision?: 'fp32' | 'bf16';
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
   * Reads a file of `ModelSpec.backbone` (its model.json, then each weight shard) by URI.
   * Defaults to the local file system for paths and file:// URIs; callers that keep backbones
   * elsewhere (the store's s3:// URIs) pass their reader. Not needed when resuming.
   */
  readBackboneFile?: (uri: string) => Promise<Uint8Array>;
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

/** Grad-CAM heatmaps for some images of a batch source. */
export interface GradCamRequest {
  model: ModelBytes;
  data: ImageBatchSource;
  /** Positions in `data` to explain. */
  indices: number[];
  /** Class to explain per index; defaults to the predicted class. */
  classes?: number[];
  /** Layer whose activations are weighted; defaults to the feature map the classifier reads through global pooling or flatten. */
  layer?: string;
}

export interface GradCamResult {
  /** The layer actually used. */
  layer: string;
  /** Heatmap side lengths (the layer's feature-map resolution). */
  height: number;
  width: number;
  /** `indices.length * height * width` values in [0, 1], row-major. */
  heatmaps: Float32Array;
  /** The class explained per index. */
  classes: number[];
  /** The model's probability of that class per index. */
  probabilities: number[];
}

export interface Embeddings {
  /** `count * dim` features, row-major. */
  values: Float32Array;
  dim: number;
  /** The layer the features came from. */
  layer: string;
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
  /** Penultimate features (the input of the classifier), globally pooled. */
  embed?(model: ModelBytes, data: ImageBatchSource, options?: { batchSize?: number; layer?: string }): Promise<Embeddings>;
  gradCam?(request: GradCamRequest): Promise<GradCamResult>;
  /** Ends child processes and frees what the engine holds. */
  close?(): Promise<void>;
}
