import { describe, expect, it } from 'vitest';
import { eventLines } from '../../../src/cli/commands/sweep.js';

describe('sweep start: the lines it prints for the events it follows', () => {
  it('a first rung with its config, marked when enqueued or run as a local activity; later rungs only by their results', () => {
    const lines = eventLines([
      { seq: 1, trial: 0, kind: 'started', targetEpoch: 1, execution: 'activity', config: { 'training.learningRate': 0.01 }, source: 'sampler' },
      { seq: 2, trial: 1, kind: 'started', targetEpoch: 1, execution: 'local-activity', config: { 'training.learningRate': 0.1 }, source: 'enqueued' },
      { seq: 3, trial: 2, kind: 'started', targetEpoch: 1, execution: 'local-activity', config: { 'training.learningRate': 0.5 }, source: 'sampler' },
      { seq: 4, trial: 0, kind: 'started', targetEpoch: 3, execution: 'local-activity' },
      { seq: 5, trial: 0, kind: 'result', row: { rank: 1, trial: 0, status: 'completed', epochs: 3, epochsTrained: 3, metric: 0.9, config: {}, source: 'sampler' } },
    ], 'val_accuracy');
    expect(lines).toHaveLength(4);
    expect(lines[0]).toMatch(/^ {2}trial 0 started: /);
    expect(lines[1]).toMatch(/^ {2}trial 1 started \(enqueued, as a local activity\): /);
    expect(lines[2]).toMatch(/^ {2}trial 2 started \(as a local activity\): /);
    expect(lines[3]).toMatch(/^ {2}trial 0 epoch 3: val_accuracy 0\.9\d* -> completed$/);
  });
});
