import { parsePipelineConfig, type PipelineConfig } from '../../../src/core/config.js';

/** Real MNIST, few images and epochs: the whole pipeline in seconds. */
export function tinyConfig(overrides: { epochs?: number; train?: number; test?: number; heartbeatTimeoutSeconds?: number } = {}): PipelineConfig {
  return parsePipelineConfig({
    dataset: { limit: { train: overrides.train ?? 1200, test: overrides.test ?? 300 }, split: { val: 0.1, seed: 7 } },
    training: { epochs: overrides.epochs ?? 2, batchSize: 32, seed: 3, heartbeatTimeoutSeconds: overrides.heartbeatTimeoutSeconds ?? 60 },
    validation: { minAccuracy: 0.5, maxLatencyMsP95: 1000, benchmarkSeconds: 0.5, benchmarkBatchSize: 32 },
  });
}
