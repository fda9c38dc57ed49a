import { parsePipelineConfig, type PipelineConfig } from '../../../src/core/config.js';

/**
 * Real MNIST at 12x12, 400 training images and a quarter-width small-cnn: an epoch takes a
 * fraction of a second, so a sweep of several trials runs in well under a minute.
 */
export function tinySweepConfig(sweep: Record<string, unknown>, overrides: { epochs?: number; heartbeatTimeoutSeconds?: number } = {}): PipelineConfig {
  return parsePipelineConfig({
    dataset: { inputShape: [12, 12, 1], limit: { train: 400, test: 100 }, split: { val: 0.25, seed: 7 } },
    model: { widthMultiplier: 0.25 },
    training: { epochs: overrides.epochs ?? 4, batchSize: 32, seed: 3, heartbeatTimeoutSeconds: overrides.heartbeatTimeoutSeconds ?? 60 },
    validation: { minAccuracy: 0.1, maxLatencyMsP95: 1000, benchmarkSeconds: 0.2, benchmarkBatchSize: 32 },
    sweep: {
      space: {
        'training.learningRate': { type: 'log-uniform', low: 1e-4, high: 3e-2 },
        'model.widthMultiplier': { type: 'choice', values: [0.25, 0.5] },
      },
      sampler: 'random',
      seed: 1,
      ...sweep,
    },
  });
}
