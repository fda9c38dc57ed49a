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
  describe('transfer learning', () => {
    const backbone = { uri: 's3://models/fashion/model.json', cutLayer: 'fc1' };

    it('accepts model.backbone and training.unfreeze, with defaults', () => {
      const config = parsePipelineConfig({
        model: { backbone },
        training: { epochs: 6, unfreeze: [{ afterEpochs: 2, layers: 1, learningRateScale: 0.3 }, { afterEpochs: 4, layers: 'all' }, { afterEpochs: 0, layers: { fromLayer: 'conv2' } }] },
      });
      expect(config.model.backbone).toEqual({ ...backbone, strict: true });
      expect(config.training.unfreeze).toEqual([
        { afterEpochs: 2, layers: 1, learningRateScale: 0.3 },
        { afterEpochs: 4, layers: 'all', learningRateScale: 1 },
        { afterEpochs: 0, layers: { fromLayer: 'conv2' }, learningRateScale: 1 },
      ]);
    });

    it('leaves both unset by default', () => {
      const config = parsePipelineConfig({});
      expect(config.model.backbone).toBeUndefined();
      expect(config.training.unfreeze).toBeUndefined();
    });

    it('names missing or empty backbone fields and unknown ones', () => {
      expect(() => parsePipelineConfig({ model: { backbone: { uri: 'x/model.json' } } })).toThrow(/model\.backbone\.cutLayer/);
      expect(() => parsePipelineConfig({ model: { backbone: { uri: '', cutLayer: 'fc1' } } })).toThrow(/model\.backbone\.uri must not be empty/);
      expect(() => parsePipelineConfig({ model: { backbone: { ...backbone, cut: 'fc1' } } })).toThrow(/unknown field "cut"/);
    });

    it('rejects unfreezing without a backbone', () => {
      expect(() => parsePipelineConfig({ training: { epochs: 4, unfreeze: [{ afterEpochs: 1, layers: 'all' }] } })).toThrow(/training\.unfreeze: .*set model\.backbone/);
    });

    it('rejects a step that would never apply, bad layers and bad scales', () => {
      expect(() => parsePipelineConfig({ model: { backbone }, training: { epochs: 3, unfreeze: [{ afterEpochs: 3, layers: 'all' }] } }))
        .toThrow(/training\.unfreeze\.0\.afterEpochs: .*never apply in a run of 3 epochs/);
      expect(() => parsePipelineConfig({ model: { backbone }, training: { epochs: 3, unfreeze: [{ afterEpochs: 1, layers: 0 }] } }))
        .toThrow(/training\.unfreeze\.0\.layers: .*an integer >= 1/);
      expect(() => parsePipelineConfig({ model: { backbone }, training: { epochs: 3, unfreeze: [{ afterEpochs: 1, layers: 'some' }] } }))
        .toThrow(/layers must be 'all'/);
      expect(() => parsePipelineConfig({ model: { backbone }, training: { epochs: 3, unfreeze: [{ afterEpochs: 1, layers: 'all', learningRateScale: 0 }] } }))
        .toThrow(/learningRateScale must be above 0/);
      expect(() => parsePipelineConfig({ model: { backbone }, training: { epochs: 3, unfreeze: [{ afterEpochs: 1, layers: 'all', learningRateScale: 2 }] } }))
        .toThrow(/learningRateScale must be at most 1/);
      expect(() => parsePipelineConfig({ model: { backbone }, training: { epochs: 3, unfreeze: [{ afterEpochs: 0.5, layers: 'all' }] } }))
        .toThrow(/afterEpochs must be a whole number/);
    });
  });
});
