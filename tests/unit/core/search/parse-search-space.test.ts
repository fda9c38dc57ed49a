import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { parseSearchSpace, spaceDefinition } from '../../../../src/core/search/index.js';

const YAML_SPACE = `
learningRate: { type: log-uniform, low: 1.0e-4, high: 1.0e-1 }
dropout: { type: uniform, low: 0, high: 0.5 }
batchSize: { type: int, low: 16, high: 256, log: true }
momentum: { type: uniform, low: 0.5, high: 0.99, when: { optimizer: sgd } }
optimizer: { type: choice, values: [adam, sgd] }
`;

describe('parseSearchSpace', () => {
  it('reads the YAML a user writes and puts each parameter after the one its condition tests', () => {
    const space = parseSearchSpace(parseYaml(YAML_SPACE));
    expect(space.params.map((p) => p.name)).toEqual(['learningRate', 'dropout', 'batchSize', 'optimizer', 'momentum']);
    expect(space.params[2]).toEqual({ name: 'batchSize', type: 'int', low: 16, high: 256, log: true });
    expect(space.params[4]).toEqual({ name: 'momentum', type: 'uniform', low: 0.5, high: 0.99, when: { optimizer: ['sgd'] } });
  });

  it('round-trips through its config form', () => {
    const space = parseSearchSpace(parseYaml(YAML_SPACE));
    expect(parseSearchSpace(JSON.parse(JSON.stringify(spaceDefinition(space))))).toEqual(space);
  });

  it('accepts a list of values in a condition', () => {
    const space = parseSearchSpace({
      optimizer: { type: 'choice', values: ['adam', 'sgd', 'rmsprop'] },
      momentum: { type: 'uniform', low: 0, high: 1, when: { optimizer: ['sgd', 'rmsprop'] } },
    });
    expect(space.params[1]?.when).toEqual({ optimizer: ['sgd', 'rmsprop'] });
  });

  it.each([
    [{ lr: { type: 'uniform', low: 0.1, high: 0.001 } }, /space\.lr: low \(0\.1\) must be < high \(0\.001\)/],
    [{ lr: { type: 'log-uniform', low: 0, high: 1 } }, /space\.lr\.low must be > 0 for log-uniform, got 0/],
    [{ lr: { type: 'loguniform', low: 1, high: 2 } }, /space\.lr\.type must be one of uniform, log-uniform, int, choice; got "loguniform"/],
    [{ lr: { type: 'uniform', low: '1e-3', high: 1 } }, /space\.lr\.low must be a finite number, got "1e-3"/],
    [{ lr: { type: 'uniform', low: 0, hgih: 1 } }, /space\.lr has unknown key "hgih" for type uniform/],
    [{ layers: { type: 'int', low: 1.5, high: 4 } }, /space\.layers\.low must be an integer for type int, got 1\.5/],
    [{ layers: { type: 'int', low: 0, high: 4, log: true } }, /space\.layers\.low must be >= 1 for a log-scaled int, got 0/],
    [{ opt: { type: 'choice', values: [] } }, /space\.opt\.values must be a non-empty list, got an empty list/],
    [{ opt: { type: 'choice', values: ['a', 'a'] } }, /space\.opt\.values lists "a" more than once/],
    [{ m: { type: 'uniform', low: 0, high: 1, when: { optimiser: 'sgd' } } }, /space\.m\.when refers to "optimiser", which is not a parameter/],
    [
      { lr: { type: 'uniform', low: 0, high: 1 }, m: { type: 'uniform', low: 0, high: 1, when: { lr: 0.5 } } },
      /space\.m\.when\.lr: conditions may only test choice parameters, but lr is uniform/,
    ],
    [
      { opt: { type: 'choice', values: ['adam', 'sgd'] }, m: { type: 'uniform', low: 0, high: 1, when: { opt: 'sdg' } } },
      /space\.m\.when\.opt: "sdg" is not one of the values of opt \("adam", "sgd"\)/,
    ],
    [
      { a: { type: 'choice', values: [1, 2], when: { b: 1 } }, b: { type: 'choice', values: [1, 2], when: { a: 1 } } },
      /conditions form a cycle among a, b/,
    ],
    [{ '1': { type: 'uniform', low: 0, high: 1 } }, /parameter name "1" must start with a letter/],
    [{}, /space must define at least one parameter/],
    [[], /space must be a mapping of parameter name to definition, got an empty list/],
  ])('rejects %j naming the parameter and bad value', (definition, message) => {
    expect(() => parseSearchSpace(definition)).toThrow(message);
  });

  it('prefixes errors with the config path it was given', () => {
    expect(() => parseSearchSpace({ lr: { type: 'uniform', low: 1, high: 1 } }, 'sweep.space')).toThrow(/^sweep\.space\.lr: low \(1\) must be < high \(1\)$/);
  });
});
