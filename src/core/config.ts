import { z } from 'zod';
import { sweepConfigSchema, sweepIssues } from './sweep-config.js';

/**
 * The run configuration. Every field has a default, so an empty config is the embedded
 * MNIST demo. Validation happens at the boundary (CLI), before any server or worker starts.
 */
const shape3 = z.tuple([z.number().int().min(1), z.number().int().min(1), z.union([z.literal(1), z.literal(3)])]);

const mnistSource = z.object({ kind: z.literal('mnist'), tag: z.string().min(1).optional() }).strict();
/** How the source's files store colour: 'bgr' (OpenCV dumps) is swapped to RGB on decode. */
const channelOrder = z.enum(['rgb', 'bgr']).default('rgb');
const imageFolderSource = z
  .object({
    kind: z.literal('image-folder'),
    /** Store URI or path of the folder: `<root>/<split?>/<class>/<file>` (local path, file:// or s3://). */
    uri: z.string().min(1),
    /** Names the source in the data report; defaults to its URI. */
    tag: z.string().min(1).optional(),
    channelOrder,
  })
  .strict();
const csvSource = z
  .object({
    kind: z.literal('csv'),
    /** URI or path of a CSV with header `path,label[,annotator][,group]`. */
    uri: z.string().min(1),
    /** Where relative `path`s resolve; defaults to the CSV's own folder. Paths may not leave it. */
    root: z.string().min(1).optional(),
    tag: z.string().min(1).optional(),
    channelOrder,
  })
  .strict();
const sourceSchema = z.discriminatedUnion('kind', [mnistSource, imageFolderSource, csvSource]);
export type SourceConfig = z.infer<typeof sourceSchema>;

/** Per-image transformations, each applied with its own probability/range; all off by default. */
export const augmentationPolicySchema = z
  .object({
    /** Maximum rotation either way, degrees. */
    rotationDeg: z.number().min(0).max(180).default(0),
    /** Maximum shift either way, as a fraction of width/height. */
    shift: z.number().min(0).max(0.5).default(0),
    /** Probability of a horizontal flip (leave 0 for digits and text). */
    hflip: z.number().min(0).max(1).default(0),
    vflip: z.number().min(0).max(1).default(0),
    /** Maximum zoom either way: 0.1 samples a scale in [0.9, 1.1]. */
    zoom: z.number().min(0).max(0.9).default(0),
    /** Maximum brightness change, fraction of full scale. */
    brightness: z.number().min(0).max(1).default(0),
    /** Maximum contrast change: 0.2 samples a factor in [0.8, 1.2]. */
    contrast: z.number().min(0).max(1).default(0),
    /** Standard deviation of added Gaussian noise, in pixel units (0-255). */
    gaussianNoiseStd: z.number().min(0).max(128).default(0),
    /** Fraction of pixels set to black or white. */
    saltPepper: z.number().min(0).max(0.5).default(0),
  })
  .strict();
export type AugmentationPolicy = z.infer<typeof augmentationPolicySchema>;

export const datasetConfigSchema = z
  .object({
    /** One source, or `sources` for several merged (each image keeps its source tag). */
    source: sourceSchema.optional(),
    sources: z.array(sourceSchema).min(1).optional(),
    /** [height, width, channels] the model sees. */
    inputShape: shape3.default([28, 28, 1]),
    scaling: z.enum(['0-1', '-1-1']).default('0-1'),
    /** How other aspect ratios meet the input shape: stretch, letterbox or centre crop. */
    fit: z.enum(['fill', 'contain', 'cover']).default('fill'),
    /** Colour transparent pixels are flattened onto (RGB 0-255). */
    background: z.tuple([z.number().int().min(0).max(255), z.number().int().min(0).max(255), z.number().int().min(0).max(255)]).default([0, 0, 0]),
    /** Caps on images per source split (train/test folders), for quick runs. */
    limit: z
      .object({ train: z.number().int().min(1).optional(), test: z.number().int().min(1).optional() })
      .strict()
      .default({}),
    split: z
      .object({
        /** Fraction of the training images held out for validation. */
        val: z.number().min(0).max(0.5).default(0.1),
        /** Fraction held out for test when the source has no separate test folder. */
        test: z.number().min(0).max(0.5).default(0.1),
        seed: z.number().int().default(1234),
      })
      .strict()
      .default({}),
    /** Images decoded per phase-1 activity; a crash resumes from the last finished chunk. */
    chunkSize: z.number().int().min(16).max(100_000).default(4096),
    /** Chunk activities in flight at once (across all workers). */
    parallelChunks: z.number().int().min(1).max(256).default(2),
    /** A phase-1 activity that stops heartbeating this long (a crashed worker) is retried elsewhere. */
    heartbeatTimeoutSeconds: z.number().int().min(2).max(3600).default(60),
    quarantine: z
      .object({
        /** The run fails when more than this fraction of the input is quarantined. */
        maxFraction: z.number().min(0).max(1).default(0.2),
        /** Decompression-bomb guard: images with more pixels are refused unread. */
        maxPixels: z.number().int().min(1).default(50_000_000),
        /** Images narrower or shorter than this are quarantined as too small. */
        minSide: z.number().int().min(1).default(8),
      })
      .strict()
      .default({}),
    labelQa: z
      .object({
        /** Conflict rate among multiply-annotated images above which the run waits for arbitration. */
        conflictThreshold: z.number().min(0).max(1).default(0.05),
        /** At or below the threshold: majority vote (ties dropped) or drop every conflicted image. */
        rule: z.enum(['majority', 'drop']).default('majority'),
        /** How long the workflow waits for an arbitration signal. */
        arbitrationTimeoutHours: z.number().positive().max(24 * 365).default(24 * 7),
        /** What happens when the wait times out. */
        onTimeout: z.enum(['fail', 'drop', 'majority']).default('fail'),
      })
      .strict()
      .default({}),
    dedup: z
      .object({
        /** Quarantine exact duplicates (same content hash), keeping the first. */
        exact: z.boolean().default(true),
        /** Perceptual-hash Hamming distance (of 64 bits) of near-duplicate candidates; -1 turns the check off. */
        nearHamming: z.number().int().min(-1).max(32).default(2),
        /**
         * Candidates are confirmed when their 16x16 grey thumbnails correlate at least this much,
         * so distinct small images that share a hash (handwritten 1s) are not taken for copies.
         */
        nearCorrelation: z.number().min(0).max(1).default(0.995),
      })
      .strict()
      .default({}),
    outliers: z
      .object({
        /** Fraction of images the isolation forest quarantines as outliers; 0 scores them only. */
        contamination: z.number().min(0).max(0.5).default(0.002),
        trees: z.number().int().min(1).max(1000).default(100),
        sampleSize: z.number().int().min(2).max(65536).default(256),
        /** 'train' leaves a held-out test set untouched; 'all' cleans every split. */
        scope: z.enum(['train', 'all']).default('train'),
        /**
         * Adds a backbone's view of each image to the forest's features: the tfjs layers model at
         * `backbone.uri` (model.json; a path, file:// or s3://) cut at `cutLayer`, its output
         * global-average-pooled and reduced to `dims` numbers by a seeded random projection.
         * Catches images that are statistically ordinary but unlike the rest in content.
         */
        embedding: z
          .object({
            backbone: z
              .object({
                uri: z.string({ required_error: 'dataset.outliers.embedding.backbone.uri is required (the backbone\'s model.json)' }).min(1, 'dataset.outliers.embedding.backbone.uri must not be empty'),
                cutLayer: z.string({ required_error: 'dataset.outliers.embedding.backbone.cutLayer is required (the layer whose output is the embedding)' }).min(1, 'dataset.outliers.embedding.backbone.cutLayer must not be empty'),
              })
              .strict(),
            /** Numbers per image after the random projection. Defaults to 16. */
            dims: z.number().int().min(1).max(256).default(16),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({}),
    augmentation: z
      .object({
        /** Training images per source image after offline expansion (1 = none). */
        offlineFactor: z.number().int().min(1).max(20).default(1),
        /** Apply the policy to every training batch as it is drawn. */
        online: z.boolean().default(false),
        policy: augmentationPolicySchema.default({}),
        seed: z.number().int().default(7),
      })
      .strict()
      .default({}),
  })
  .strict()
  .superRefine((value, ctx) => {
    if (value.source && value.sources) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['sources'], message: 'give either "source" or "sources", not both' });
    }
  })
  .transform(({ source, ...rest }) => ({ ...rest, sources: rest.sources ?? [source ?? { kind: 'mnist' as const }] }));

export const modelConfigSchema = z
  .object({
    architecture: z
      .enum(['small-cnn', 'mobilenet-v3-small', 'mobilenet-v3-large', 'resnet-18', 'resnet-50', 'efficientnet-b0', 'vit-tiny'])
      .default('small-cnn'),
    /** ViT patch size in pixels (input sides must be multiples of it). */
    patchSize: z.number().int().min(1).max(64).optional(),
    widthMultiplier: z.number().positive().max(4).default(1),
    dropout: z.number().min(0).max(0.9).default(0.25),
    /**
     * Transfer learning: a pretrained tfjs layers model (model.json + weight shards) as the body,
     * cut at `cutLayer` and frozen, with a new head (`dropout` + dense logits); `architecture` and
     * `widthMultiplier` are then not used. See src/ml/transfer.ts.
     */
    backbone: z
      .object({
        /** The model.json: a local path, a file:// URI, or an s3:// URI read through the run's store. */
        uri: z.string({ required_error: 'model.backbone.uri is required (the backbone\'s model.json)' }).min(1, 'model.backbone.uri must not be empty'),
        /** The backbone layer whose output the head takes; later layers are dropped. */
        cutLayer: z.string({ required_error: 'model.backbone.cutLayer is required (the layer whose output feeds the new head)' }).min(1, 'model.backbone.cutLayer must not be empty'),
        /** Every weight of the cut backbone must be stored (default); false initialises missing ones. */
        strict: z.boolean().default(true),
      })
      .strict()
      .optional(),
  })
  .strict();

export const unfreezeStepSchema = z
  .object({
    /** Whole epochs of training before these layers start training too (0 = from the start). */
    afterEpochs: z.number({ required_error: 'afterEpochs is required (whole epochs before the step applies)' }).int('afterEpochs must be a whole number of epochs').min(0, 'afterEpochs must be >= 0'),
    /** 'all', the top N backbone layers with weights, or a named backbone layer and every one after it. */
    layers: z.union([
      z.literal('all'),
      z.number().int('layers as a number counts backbone layers with weights: an integer >= 1').min(1, 'layers as a number counts backbone layers with weights: an integer >= 1'),
      z.object({ fromLayer: z.string().min(1, 'layers.fromLayer must name a backbone layer') }).strict(),
    ], { errorMap: () => ({ message: "layers must be 'all', an integer >= 1 or { fromLayer: <backbone layer name> }" }) }),
    /** Multiplies the learning rate of the layers this step unfreezes; in (0, 1]. */
    learningRateScale: z.number().gt(0, 'learningRateScale must be above 0').max(1, 'learningRateScale must be at most 1').default(1),
  })
  .strict();

export const trainingConfigSchema = z
  .object({
    /** tfjs (default), torch (PyTorch child process), or auto: torch when PyTorch sees a CUDA card, else tfjs. A worker's --engine overrides it. */
    engine: z.enum(['tfjs', 'torch', 'auto']).default('tfjs'),
    /**
     * bf16: the torch engine trains and evaluates under CUDA bf16 autocast (weights and optimizer
     * stay fp32). Where there is no CUDA card, and with tfjs, training runs in fp32 and the log says so.
     */
    precision: z.enum(['fp32', 'bf16']).default('fp32'),
    backend: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'),
    epochs: z.number().int().min(1).max(1000).default(3),
    batchSize: z.number().int().min(1).max(4096).default(64),
    learningRate: z.number().positive().max(10).default(0.001),
    optimizer: z.enum(['adam', 'adamw', 'sgd']).default('adam'),
    momentum: z.number().min(0).max(1).default(0.9),
    nesterov: z.boolean().default(false),
    /** L2 weight decay (decoupled for adamw). */
    weightDecay: z.number().min(0).max(1).default(0),
    loss: z
      .discriminatedUnion('kind', [
        z.object({ kind: z.literal('cross-entropy'), labelSmoothing: z.number().min(0).max(0.5).default(0) }).strict(),
        z.object({ kind: z.literal('focal'), alpha: z.number().min(0).max(1).default(0.25), gamma: z.number().min(0).max(10).default(2) }).strict(),
      ])
      .default({ kind: 'cross-entropy', labelSmoothing: 0 }),
    schedule: z
      .discriminatedUnion('kind', [
        z.object({ kind: z.literal('constant'), warmupEpochs: z.number().min(0).default(0) }).strict(),
        z.object({ kind: z.literal('cosine'), warmupEpochs: z.number().min(0).default(0), minLearningRate: z.number().min(0).default(0) }).strict(),
        z.object({ kind: z.literal('step'), warmupEpochs: z.number().min(0).default(0), stepEpochs: z.number().int().min(1), gamma: z.number().positive().max(1) }).strict(),
      ])
      .default({ kind: 'constant', warmupEpochs: 0 }),
    /** Clip the global gradient norm to this value. */
    clipNorm: z.number().positive().optional(),
    earlyStopping: z
      .object({ patience: z.number().int().min(1), minDelta: z.number().min(0).default(0), monitor: z.enum(['val_loss', 'val_accuracy']).default('val_loss') })
      .strict()
      .optional(),
    seed: z.number().int().default(42),
    /** Progressive unfreezing of model.backbone's layers (needs model.backbone); see src/ml/transfer.ts. */
    unfreeze: z.array(unfreezeStepSchema).optional(),
    /** A training attempt that stops heartbeating this long is retried on another worker. */
    heartbeatTimeoutSeconds: z.number().int().min(5).max(3600).default(60),
  })
  .strict();

export const validationConfigSchema = z
  .object({
    /** Deployment gate: minimum test accuracy. */
    minAccuracy: z.number().min(0).max(1).default(0.97),
    /** Deployment gate: maximum batch-1 p95 latency in milliseconds. */
    maxLatencyMsP95: z.number().positive().default(50),
    /** Seconds spent on each inference measurement. */
    benchmarkSeconds: z.number().positive().max(120).default(3),
    benchmarkBatchSize: z.number().int().min(1).max(1024).default(64),
  })
  .strict();

/** Phase 4: what the evaluation adds to the test metrics. */
export const evaluationConfigSchema = z
  .object({
    /** Equal-width confidence bins of the calibration (ECE, reliability diagram). */
    calibrationBins: z.number().int().min(2).max(100).default(15),
    gradCam: z
      .object({
        /** Grad-CAM overlays in the report; off skips them (metrics are always computed). */
        enabled: z.boolean().default(true),
        /** Correctly classified and misclassified test images explained per true class (the most confident of each). */
        examplesPerClass: z.number().int().min(1).max(20).default(2),
        /** Overlays at most, whatever the class count, so the cost stays bounded. */
        maxImages: z.number().int().min(1).max(1000).default(120),
        /** Layer whose activations are weighted; defaults to the last feature map before global pooling or flattening. */
        layer: z.string().min(1, 'evaluation.gradCam.layer must name a model layer').optional(),
        /** Side of the overlay PNGs in pixels (small images are scaled up to it). */
        size: z.number().int().min(16).max(1024).default(112),
      })
      .strict()
      .default({}),
  })
  .strict();

export const pipelineConfigSchema = z
  .object({
    dataset: datasetConfigSchema.default({}),
    model: modelConfigSchema.default({}),
    training: trainingConfigSchema.default({}),
    validation: validationConfigSchema.default({}),
    evaluation: evaluationConfigSchema.default({}),
    /** Hyperparameter search (phases 3-4 become a sweep); see sweep-config.ts. */
    sweep: sweepConfigSchema.optional(),
  })
  .strict()
  .superRefine((value, ctx) => {
    for (const issue of sweepIssues(value, { model: modelConfigSchema, training: trainingConfigSchema })) ctx.addIssue({ code: z.ZodIssueCode.custom, ...issue });
    if (value.training.earlyStopping && value.dataset.split.val === 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['training', 'earlyStopping'], message: 'early stopping watches validation metrics: set dataset.split.val above 0' });
    }
    const unfreeze = value.training.unfreeze ?? [];
    if (unfreeze.length > 0 && value.model.backbone === undefined) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['training', 'unfreeze'], message: 'training.unfreeze unfreezes backbone layers: set model.backbone too' });
    }
    unfreeze.forEach((step, i) => {
      if (step.afterEpochs >= value.training.epochs) {
        ctx.addIssue({
          code: z.ZodIssueCode.custom,
          path: ['training', 'unfreeze', i, 'afterEpochs'],
          message: `afterEpochs is ${step.afterEpochs}, so the step would never apply in a run of ${value.training.epochs} epochs (training.epochs)`,
        });
      }
    });
  });

export type PipelineConfig = z.infer<typeof pipelineConfigSchema>;
export type DatasetConfig = z.infer<typeof datasetConfigSchema>;
export type ModelConfig = z.infer<typeof modelConfigSchema>;
export type UnfreezeStepConfig = z.infer<typeof unfreezeStepSchema>;
export type TrainingConfig = z.infer<typeof trainingConfigSchema>;
export type ValidationConfig = z.infer<typeof validationConfigSchema>;
export type EvaluationConfig = z.infer<typeof evaluationConfigSchema>;

export class ConfigError extends Error {
  constructor(
    message: string,
    readonly issues: string[],
  ) {
    super(message);
    this.name = 'ConfigError';
  }
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function valueAt(root: unknown, path: (string | number)[]): unknown {
  let node: unknown = root;
  for (const part of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string | number, unknown>)[part];
  }
  return node;
}

/**
 * Validates a raw config object. Throws ConfigError whose message names each bad field,
 * the value found and what was expected, prefixed by `source` (the file name).
 */
export function parsePipelineConfig(raw: unknown, source = 'config'): PipelineConfig {
  const result = pipelineConfigSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => {
    const field = issue.path.join('.') || '(root)';
    if (issue.code === 'unrecognized_keys') {
      const where = issue.path.length ? `${field}: ` : '';
      return `${where}unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    }
    return `${field}: ${issue.message} (got ${describeValue(valueAt(raw, issue.path))})`;
  });
  throw new ConfigError(`invalid ${source}:\n  - ${issues.join('\n  - ')}`, issues);
}
