import { describe, expect, it } from 'vitest';
import type { TrainSpec } from '../../../src/ml/engine.js';
import { learningRateAt, validateSchedule } from '../../../src/ml/schedule.js';

const base = { learningRate: 0.1, epochs: 10 } satisfies Pick<TrainSpec, 'learningRate' | 'epochs'>;
const STEPS = 4;

function curve(spec: Pick<TrainSpec, 'learningRate' | 'epochs' | 'schedule'>): number[] {
  return Array.from({ length: spec.epochs * STEPS }, (_, s) => learningRateAt(spec, s, STEPS));
}

describe('learningRateAt', () => {
  it('is the peak rate throughout without a schedule or with constant', () => {
    expect(new Set(curve(base))).toEqual(new Set([0.1]));
    expect(new Set(curve({ ...base, schedule: { kind: 'constant' } }))).toEqual(new Set([0.1]));
  });

  it('warms up linearly over warmupEpochs, from lr/W at step 0 to lr at step W-1', () => {
    const lr = curve({ ...base, schedule: { kind: 'constant', warmupEpochs: 2 } });
    expect(lr.slice(0, 9)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 8].map((k) => (0.1 * k) / 8));
    expect(lr.slice(8).every((v) => v === 0.1)).toBe(true);
  });

  it('cosine decays from the peak after warmup towards minLearningRate', () => {
    const spec = { ...base, schedule: { kind: 'cosine', warmupEpochs: 1, minLearningRate: 0.01 } } as const;
    const lr = curve(spec);
    expect(lr[3]).toBeCloseTo(0.1, 12);
    // Decay spans steps 4..39 (36 steps): halfway at step 4 + 18.
    expect(lr[22]).toBeCloseTo(0.01 + 0.09 / 2, 12);
    expect(lr[39]).toBeCloseTo(0.01 + 0.09 * (1 + Math.cos(Math.PI * 35 / 36)) / 2, 12);
    for (let s = 4; s < 39; s++) expect(lr[s + 1]!).toBeLessThan(lr[s]!);
    expect(lr[39]!).toBeGreaterThan(0.01);
  });

  it('step multiplies by gamma every stepEpochs, counted from the end of warmup', () => {
    const lr = curve({ ...base, schedule: { kind: 'step', warmupEpochs: 1, stepEpochs: 3, gamma: 0.5 } });
    [0.025, 0.05, 0.075, 0.1].forEach((v, s) => expect(lr[s]).toBeCloseTo(v, 15));
    expect(lr.slice(4, 16).every((v) => v === 0.1)).toBe(true);
    expect(lr[16]).toBe(0.05);
    expect(lr[28]).toBe(0.025);
  });

  it('is a pure function of the global step, so resuming at an epoch boundary continues it', () => {
    const spec = { ...base, schedule: { kind: 'cosine', warmupEpochs: 2 } } as const;
    const whole = curve(spec);
    const resumed = Array.from({ length: 6 * STEPS }, (_, i) => learningRateAt(spec, 4 * STEPS + i, STEPS));
    expect(resumed).toEqual(whole.slice(4 * STEPS));
  });

  it('rejects bad settings, naming the field', () => {
    expect(() => validateSchedule({ kind: 'cosine', warmupEpochs: 11 }, 10, 0.1)).toThrow('spec.schedule.warmupEpochs must be a number in [0, epochs = 10], got 11');
    expect(() => validateSchedule({ kind: 'cosine', minLearningRate: 0.2 }, 10, 0.1)).toThrow('spec.schedule.minLearningRate must be in [0, learningRate = 0.1], got 0.2');
    expect(() => validateSchedule({ kind: 'step', stepEpochs: 0, gamma: 0.1 }, 10, 0.1)).toThrow('spec.schedule.stepEpochs must be a number > 0, got 0');
    expect(() => validateSchedule({ kind: 'step', stepEpochs: 2, gamma: 2 }, 10, 0.1)).toThrow('spec.schedule.gamma must be in (0, 1], got 2');
  });
});
