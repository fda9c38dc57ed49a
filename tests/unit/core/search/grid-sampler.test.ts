import { describe, expect, it } from 'vitest';
import { GridSampler, gridValues, parseSearchSpace, restoreSampler } from '../../../../src/core/search/index.js';

describe('GridSampler', () => {
  const space = parseSearchSpace({
    optimizer: { type: 'choice', values: ['adam', 'sgd'] },
    momentum: { type: 'uniform', low: 0.5, high: 1, when: { optimizer: 'sgd' } },
    layers: { type: 'int', low: 1, high: 2 },
  });

  it('walks the grid like nested loops, last parameter fastest, conditional only where active', () => {
    const grid = new GridSampler({ space, points: 3 });
    expect(grid.size).toBe(8);
    const all = Array.from({ length: grid.size }, (_, n) => grid.ask(n));
    expect(all).toEqual([
      { optimizer: 'adam', layers: 1 },
      { optimizer: 'adam', layers: 2 },
      { optimizer: 'sgd', momentum: 0.5, layers: 1 },
      { optimizer: 'sgd', momentum: 0.5, layers: 2 },
      { optimizer: 'sgd', momentum: 0.75, layers: 1 },
      { optimizer: 'sgd', momentum: 0.75, layers: 2 },
      { optimizer: 'sgd', momentum: 1, layers: 1 },
      { optimizer: 'sgd', momentum: 1, layers: 2 },
    ]);
    expect(grid.ask(8)).toBeUndefined();
  });

  it('places points evenly in each parameter scale, ends included', () => {
    const [lr, width, layers, few] = parseSearchSpace({
      lr: { type: 'log-uniform', low: 1e-4, high: 1e-1 },
      width: { type: 'int', low: 16, high: 256, log: true },
      layers: { type: 'int', low: 1, high: 8 },
      few: { type: 'int', low: 1, high: 3 },
    }).params;
    if (lr === undefined || width === undefined || layers === undefined || few === undefined) throw new Error('missing parameter');
    const lrs = gridValues(lr, 4) as number[];
    expect(lrs[0]).toBe(1e-4);
    expect(lrs[1]).toBeCloseTo(1e-3, 15);
    expect(lrs[2]).toBeCloseTo(1e-2, 15);
    expect(lrs[3]).toBe(1e-1);
    expect(gridValues(width, 5)).toEqual([16, 32, 64, 128, 256]);
    expect(gridValues(layers, 5)).toEqual([1, 3, 5, 6, 8]);
    expect(gridValues(few, 5)).toEqual([1, 2, 3]);
  });

  it('restores from JSON and keeps proposing the same points', () => {
    const grid = new GridSampler({ space, points: 3 });
    const restored = restoreSampler(JSON.parse(JSON.stringify(grid.toJSON())));
    expect(restored).toBeInstanceOf(GridSampler);
    expect([4, 5, 6, 7, 8].map((n) => restored.ask(n))).toEqual([4, 5, 6, 7, 8].map((n) => grid.ask(n)));
  });

  it('refuses a grid too large to finish, naming the parameter', () => {
    const huge = parseSearchSpace({
      a: { type: 'int', low: 1, high: 100 },
      b: { type: 'int', low: 1, high: 100 },
      c: { type: 'int', low: 1, high: 100 },
    });
    expect(() => new GridSampler({ space: huge, points: 100 })).toThrow(/more than 100000 points by parameter c \(100 values\)/);
    expect(() => new GridSampler({ space, points: 0 })).toThrow(/grid points must be an integer >= 1, got 0/);
  });
});
