import { describe, expect, it } from 'vitest';
import { createRng } from '../../../../src/core/rng.js';
import { checkConfig, parseSearchSpace, sampleConfig, sampleParam } from '../../../../src/core/search/index.js';

const space = parseSearchSpace({
  lr: { type: 'log-uniform', low: 1e-4, high: 1e-1 },
  layers: { type: 'int', low: 1, high: 4 },
  width: { type: 'int', low: 16, high: 256, log: true },
  optimizer: { type: 'choice', values: ['adam', 'sgd'] },
  momentum: { type: 'uniform', low: 0.5, high: 0.99, when: { optimizer: 'sgd' } },
});

describe('sampling from the prior', () => {
  const rng = createRng(7);
  const configs = Array.from({ length: 4000 }, () => sampleConfig(space, rng));

  it('includes a conditional parameter exactly when its condition holds', () => {
    const sgd = configs.filter((c) => c['optimizer'] === 'sgd');
    expect(sgd.length).toBeGreaterThan(1800);
    expect(sgd.every((c) => typeof c['momentum'] === 'number')).toBe(true);
    expect(configs.filter((c) => c['optimizer'] === 'adam').every((c) => !('momentum' in c))).toBe(true);
  });

  it('spreads log-uniform values evenly per decade and keeps them in bounds', () => {
    const lrs = configs.map((c) => c['lr'] as number);
    expect(Math.min(...lrs)).toBeGreaterThanOrEqual(1e-4);
    expect(Math.max(...lrs)).toBeLessThanOrEqual(1e-1);
    expect(lrs.filter((x) => x < 1e-3).length / lrs.length).toBeCloseTo(1 / 3, 1);
  });

  it('draws every integer including both ends, log-scaled ones included', () => {
    expect(new Set(configs.map((c) => c['layers']))).toEqual(new Set([1, 2, 3, 4]));
    const widths = configs.map((c) => c['width'] as number);
    expect(widths.every(Number.isInteger)).toBe(true);
    expect(widths).toContain(16);
    expect(widths).toContain(256);
    expect(widths.filter((w) => w < 64).length / widths.length).toBeCloseTo(0.5, 1);
  });

  it('gives the same value for the same seed', () => {
    const param = space.params[0];
    if (param === undefined) throw new Error('space has no parameters');
    expect(sampleParam(param, createRng(3))).toBe(sampleParam(param, createRng(3)));
  });
});

describe('checkConfig for a configuration a user enqueues', () => {
  it('accepts a valid one and returns it in the space order', () => {
    expect(Object.keys(checkConfig(space, { momentum: 0.9, optimizer: 'sgd', width: 32, layers: 2, lr: 0.01 }))).toEqual([
      'lr',
      'layers',
      'width',
      'optimizer',
      'momentum',
    ]);
  });

  it.each([
    [{ lr: 0.01, layers: 2, width: 32, optimizer: 'adam', momentum: 0.9 }, /config\.momentum is set to 0\.9 but is inactive/],
    [{ lr: 0.01, layers: 2, width: 32, optimizer: 'sgd' }, /config\.momentum is missing/],
    [{ lr: 0.5, layers: 2, width: 32, optimizer: 'adam' }, /config\.lr is 0\.5, outside \[0\.0001, 0\.1\]/],
    [{ lr: 0.01, layers: 2.5, width: 32, optimizer: 'adam' }, /config\.layers must be an integer, got 2\.5/],
    [{ lr: 0.01, layers: 2, width: 32, optimizer: 'adamw' }, /config\.optimizer is "adamw", expected one of "adam", "sgd"/],
    [{ lr: 0.01, layers: 2, width: 32, optimizer: 'adam', epochs: 3 }, /config\.epochs is not a parameter/],
  ])('rejects %j', (config, message) => {
    expect(() => checkConfig(space, config)).toThrow(message);
  });
});
