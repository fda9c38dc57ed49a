import { z } from 'zod';

/**
 * The run configuration. Every field has a default, so an empty config is the embedded
 * MNIST demo. Validation happens at the boundary (CLI), before any server or worker starts.
 */
const shape3 = z.tuple([z.number().int().min(1), z.number().int().min(1), z.union([z.literal(1), z.literal(3)])]);

const mnistSource = z.object({ kind: z.literal('mnist') }).strict();
const imageFolderSource = z
  .object({
    kind: z.literal('image-folder'),
    /** Store URI or path of the folder: `<root>/<split?>/<class>/<file>`. */
    uri: z.string().min(1),
  })
  .strict();

export const datasetConfigSchema = z
  .object({
    source: z.discriminatedUnion('kind', [mnistSource, imageFolderSource]).default({ kind: 'mnist' }),
    /** [height, width, channels] the model sees. */
    inputShape: shape3.default([28, 28, 1]),
    scaling: z.enum(['0-1', '-1-1']).default('0-1'),
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
  })
  .strict();

export const modelConfigSchema = z
  .object({
    architecture: z.literal('small-cnn').default('small-cnn'),
    widthMultiplier: z.number().positive().max(4).default(1),
    dropout: z.number().min(0).max(0.9).default(0.25),
  })
  .strict();

export const trainingConfigSchema = z
  .object({
    engine: z.literal('tfjs').default('tfjs'),
    backend: z.enum(['auto', 'tensorflow', 'wasm', 'cpu']).default('auto'),
    epochs: z.number().int().min(1).max(1000).default(3),
    batchSize: z.number().int().min(1).max(4096).default(64),
    learningRate: z.number().positive().max(10).default(0.001),
    optimizer: z.enum(['adam', 'sgd']).default('adam'),
    momentum: z.number().min(0).max(1).default(0.9),
    seed: z.number().int().default(42),
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

export const pipelineConfigSchema = z
  .object({
    dataset: datasetConfigSchema.default({}),
    model: modelConfigSchema.default({}),
    training: trainingConfigSchema.default({}),
    validation: validationConfigSchema.default({}),
  })
  .strict();

export type PipelineConfig = z.infer<typeof pipelineConfigSchema>;
export type DatasetConfig = z.infer<typeof datasetConfigSchema>;
export type ModelConfig = z.infer<typeof modelConfigSchema>;
export type TrainingConfig = z.infer<typeof trainingConfigSchema>;
export type ValidationConfig = z.infer<typeof validationConfigSchema>;

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
