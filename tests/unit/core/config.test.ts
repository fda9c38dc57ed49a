import { describe, expect, it } from 'vitest';
import { ConfigError, parsePipelineConfig } from '../../../src/core/config.js';

describe('pipeline config', () => {
  it('an empty config is the embedded MNIST demo', () => {
    const config = parsePipelineConfig({});
    expect(config.dataset.sources).toEqual([{ kind: 'mnist' }]);
    expect(config.dataset.inputShape).toEqual([28, 28, 1]);
    expect(config.training.epochs).toBeGreaterThanOrEqual(1);
    expect(config.validation.minAccuracy).toBe(0.97);
  });

  it('names the field, the value and what was expected', () => {
    const err = (() => {
      try {
        parsePipelineConfig({ training: { epochs: 0, optimizer: 'adagrad' } }, 'my.yaml');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as ConfigError).message;
    expect(message).toContain('my.yaml');
    expect(message).toMatch(/training\.epochs: .*1.*\(got 0\)/);
    expect(message).toMatch(/training\.optimizer: .*'adam' \| 'adamw' \| 'sgd'.*\(got "adagrad"\)/);
  });

  it('rejects unknown fields instead of ignoring a typo', () => {
    expect(() => parsePipelineConfig({ training: { epoch: 3 } })).toThrow(/training: unknown field "epoch"/);
    expect(() => parsePipelineConfig({ trainig: {} })).toThrow(/unknown field "trainig"/);
  });

  it('checks the input shape', () => {
    expect(() => parsePipelineConfig({ dataset: { inputShape: [28, 28, 2] } })).toThrow(/dataset\.inputShape\.2/);
  });
});

describe('cross-field checks', () => {
  it('refuses early stopping without a validation split', () => {
    expect(() => parsePipelineConfig({ dataset: { split: { val: 0 } }, training: { earlyStopping: { patience: 2 } } }, 'x.yaml')).toThrow(
      /training\.earlyStopping: early stopping watches validation metrics: set dataset\.split\.val above 0/,
    );
    expect(() => parsePipelineConfig({ training: { earlyStopping: { patience: 2 } } })).not.toThrow();
  });

  it('refuses "source" and "sources" together', () => {
    expect(() => parsePipelineConfig({ dataset: { source: { kind: 'mnist' }, sources: [{ kind: 'mnist' }] } })).toThrow(/give either "source" or "sources"/);
  });
});
