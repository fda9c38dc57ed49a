import { describe, expect, it } from 'vitest';
import { parsePipelineConfig } from '../../../src/core/config.js';
import { applyTrialConfig } from '../../../src/core/sweep-space.js';

const space = {
  'training.learningRate': { type: 'log-uniform', low: 1e-4, high: 1e-1 },
  'training.optimizer': { type: 'choice', values: ['adam', 'sgd'] },
  'training.momentum': { type: 'uniform', low: 0.5, high: 0.95, when: { 'training.optimizer': 'sgd' } },
  'model.widthMultiplier': { type: 'choice', values: [0.5, 1] },
  'training.loss.labelSmoothing': { type: 'uniform', low: 0, high: 0.2 },
};

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected an error');
}

describe('sweep config section', () => {
  it('defaults: TPE, ASHA (min 1 epoch, eta 3), val_accuracy, 10 trials, one at a time', () => {
    const config = parsePipelineConfig({ sweep: { space } });
    expect(config.sweep).toEqual({
      space, sampler: 'tpe', seed: 0, gridPoints: 5, scheduler: { kind: 'asha', minEpochs: 1, reductionFactor: 3, mode: 'stop' }, metric: 'val_accuracy', trials: 10, concurrency: 1,
      trialExecution: 'auto', localRungTimeoutSeconds: 1800,
    });
    expect(parsePipelineConfig({}).sweep).toBeUndefined();
  });

  it('accepts `scheduler: median` as shorthand', () => {
    expect(parsePipelineConfig({ sweep: { space, scheduler: 'median' } }).sweep?.scheduler).toEqual({ kind: 'median', gracePeriod: 1, minTrials: 3 });
    expect(parsePipelineConfig({ sweep: { space, scheduler: 'none' } }).sweep?.scheduler).toEqual({ kind: 'none' });
  });

  it('refuses a parameter that is not a sweepable config path, naming it', () => {
    const message = messageOf(() => parsePipelineConfig({ sweep: { space: { 'training.learnRate': { type: 'uniform', low: 0, high: 1 } } } }, 'my.yaml'));
    expect(message).toContain('my.yaml');
    expect(message).toContain('sweep.space.training.learnRate: unknown parameter "training.learnRate"');
    expect(message).toContain('training.learningRate');
  });

  it('refuses range ends and choices the config field would refuse, naming the field and value', () => {
    const message = messageOf(() => parsePipelineConfig({ sweep: { space: { 'training.batchSize': { type: 'int', low: 8, high: 10000 } } } }));
    expect(message).toContain('sweep.space.training.batchSize.high: 10000 is not a valid training.batchSize: training.batchSize: Number must be less than or equal to 4096 (got 10000)');
    expect(messageOf(() => parsePipelineConfig({ sweep: { space: { 'training.optimizer': { type: 'choice', values: ['adam', 'adagrad'] } } } })))
      .toMatch(/sweep\.space\.training\.optimizer\.values: "adagrad" is not a valid training\.optimizer/);
  });

  it('passes the space errors of parseSearchSpace through with their path', () => {
    expect(messageOf(() => parsePipelineConfig({ sweep: { space: { 'training.learningRate': { type: 'log-uniform', low: 0, high: 1 } } } })))
      .toContain('sweep.space.training.learningRate.low must be > 0 for log-uniform, got 0');
  });

  it('checks the sweep against the rest of the config', () => {
    expect(messageOf(() => parsePipelineConfig({ training: { epochs: 2 }, sweep: { space, scheduler: { kind: 'asha', minEpochs: 3 } } })))
      .toContain('sweep.scheduler.minEpochs: minEpochs is 3, above training.epochs (2)');
    expect(messageOf(() => parsePipelineConfig({ dataset: { split: { val: 0 } }, sweep: { space } })))
      .toContain('sweep.metric: trials are ranked by val_accuracy on the validation split: set dataset.split.val above 0');
    expect(messageOf(() => parsePipelineConfig({ training: { loss: { kind: 'focal' } }, sweep: { space } })))
      .toContain('needs training.loss.kind cross-entropy, but the config\'s loss is focal');
    expect(messageOf(() => parsePipelineConfig({ sweep: { space, trials: 0 } }))).toContain('sweep.trials');
    expect(messageOf(() => parsePipelineConfig({ sweep: { space, targetMetric: 97 } }))).toContain('sweep.targetMetric: val_accuracy targets lie in (0, 1], got 97');
    // A bad field elsewhere in the section is reported once, at that field, not against every sweep range.
    const elsewhere = messageOf(() => parsePipelineConfig({ training: { heartbeatTimeoutSeconds: 2 }, sweep: { space } }));
    expect(elsewhere).toContain('training.heartbeatTimeoutSeconds: Number must be greater than or equal to 5 (got 2)');
    expect(elsewhere).not.toContain('sweep.space');
  });
});

describe('applyTrialConfig', () => {
  it('writes each parameter at its dotted path and leaves the base unchanged', () => {
    const base = parsePipelineConfig({});
    const trial = applyTrialConfig(base, { 'training.learningRate': 0.01, 'training.loss.labelSmoothing': 0.1, 'model.widthMultiplier': 0.5 });
    expect(trial.training.learningRate).toBe(0.01);
    expect(trial.training.loss).toEqual({ kind: 'cross-entropy', labelSmoothing: 0.1 });
    expect(trial.model.widthMultiplier).toBe(0.5);
    expect(base.training.learningRate).toBe(0.001);
    expect(base.model.widthMultiplier).toBe(1);
  });

  it('refuses a path a sweep cannot set', () => {
    expect(() => applyTrialConfig(parsePipelineConfig({}), { 'training.epochs': 3 })).toThrow('sweep parameter "training.epochs" is not a config field a sweep can set');
  });
});
