import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SweepResult } from '../../src/workflows/sweep-workflow.js';
import { runCliIn } from '../integration/support/cli-process.js';

const SWEEP_YAML = `dataset:
  inputShape: [12, 12, 1]
  limit: { train: 400, test: 100 }
  split: { val: 0.25, seed: 7 }
model: { widthMultiplier: 0.25 }
training: { epochs: 2, batchSize: 32, seed: 3 }
sweep:
  space:
    training.learningRate: { type: log-uniform, low: 0.0001, high: 0.03 }
    training.optimizer: { type: choice, values: [adam, sgd] }
    training.momentum: { type: uniform, low: 0.5, high: 0.95, when: { training.optimizer: sgd } }
  sampler: random
  seed: 4
  scheduler: { kind: asha, minEpochs: 1, reductionFactor: 2 }
  trials: 3
  concurrency: 2
`;

describe('durable-vision sweep', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dv-sweep-cli-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const cli = (args: string[]) => runCliIn(dir, args);

  it('refuses bad input before starting anything, naming what is wrong', async () => {
    const plain = join(dir, 'plain.yaml');
    await writeFile(plain, 'training: { epochs: 1 }\n');
    const noSweep = await cli(['sweep', 'start', plain]);
    expect(noSweep.code).toBe(2);
    expect(noSweep.output).toContain(`${plain}: no sweep section`);
    const badSpace = join(dir, 'bad.yaml');
    await writeFile(badSpace, 'sweep:\n  space:\n    training.lr: { type: uniform, low: 0, high: 1 }\n');
    const bad = await cli(['sweep', 'start', badSpace]);
    expect(bad.code).toBe(2);
    expect(bad.output).toContain('sweep.space.training.lr: unknown parameter "training.lr"');
    expect(existsSync(join(dir, '.data'))).toBe(false);
  });

  it('`sweep start` runs a sweep on an embedded server, printing rung results and the leaderboard', async () => {
    const file = join(dir, 'sweep.yaml');
    await writeFile(file, SWEEP_YAML);
    const run = await cli(['sweep', 'start', file, '--sweep-id', 'cli-sweep', '--json', '--store', join(dir, 'artifacts')]);
    expect(run.code, run.output).toBe(0);
    const result = JSON.parse(run.stdout) as SweepResult;
    expect(result.counts.total).toBe(3);
    expect(result.counts.completed + result.counts.pruned).toBe(3);
    expect(run.output).toMatch(/trial \d epoch 1: val_accuracy 0\.\d{4} -> (continues|pruned|completed)/);
    // Every trial's start and final outcome, even those after the last poll (the sweep takes a few seconds).
    for (const row of result.leaderboard) {
      expect(run.output).toContain(`trial ${row.trial} started`);
      expect(run.output).toMatch(new RegExp(`trial ${row.trial} epoch ${row.epochs}: val_accuracy \\d\\.\\d{4} -> ${row.status}`));
    }
    expect(run.output).toMatch(/rank\s+trial\s+status\s+epochs\s+val_accuracy\s+best\s+config/);
    expect(run.output).toContain(`best: trial ${result.best!.trial}`);
    const written = JSON.parse(await readFile(join(dir, 'artifacts', 'sweeps', 'cli-sweep', 'leaderboard.json'), 'utf8')) as { leaderboard: unknown[] };
    expect(written.leaderboard).toEqual(result.leaderboard);
  }, 240_000);
});
