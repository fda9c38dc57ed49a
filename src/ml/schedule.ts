/**
 * Learning-rate schedules. The rate at a step is a pure function of (spec, global step, steps
 * per epoch), so a run resumed at an epoch boundary continues the schedule exactly where the
 * interrupted run left it: the checkpoint only has to carry the step count.
 *
 * Global step s counts optimizer steps (batches) from 0 over the whole run; the total is
 * `epochs * stepsPerEpoch`.
 *
 * - Warmup (any kind): for s < W = round(warmupEpochs * stepsPerEpoch) the rate rises linearly,
 *   lr * (s + 1) / W, so the first step is lr / W (never 0) and step W - 1 reaches lr.
 * - constant: lr after warmup.
 * - cosine: from lr down to minLearningRate over the steps after warmup:
 *   min + (lr - min) * (1 + cos(pi * (s - W) / (T - W))) / 2, T the total step count.
 * - step: lr * gamma^floor((s - W) / (stepEpochs * stepsPerEpoch)); epochs are counted from the
 *   end of warmup, so a decay never lands inside the warmup.
 */
import type { ScheduleSpec, TrainSpec } from './engine.js';

export function validateSchedule(schedule: ScheduleSpec, epochs: number, learningRate: number): void {
  const warmup = schedule.warmupEpochs ?? 0;
  if (!(Number.isFinite(warmup) && warmup >= 0 && warmup <= epochs)) {
    throw new Error(`spec.schedule.warmupEpochs must be a number in [0, epochs = ${epochs}], got ${schedule.warmupEpochs}`);
  }
  switch (schedule.kind) {
    case 'constant':
      return;
    case 'cosine': {
      const min = schedule.minLearningRate ?? 0;
      if (!(Number.isFinite(min) && min >= 0 && min <= learningRate)) {
        throw new Error(`spec.schedule.minLearningRate must be in [0, learningRate = ${learningRate}], got ${schedule.minLearningRate}`);
      }
      return;
    }
    case 'step':
      if (!(Number.isFinite(schedule.stepEpochs) && schedule.stepEpochs > 0)) {
        throw new Error(`spec.schedule.stepEpochs must be a number > 0, got ${schedule.stepEpochs}`);
      }
      if (!(Number.isFinite(schedule.gamma) && schedule.gamma > 0 && schedule.gamma <= 1)) {
        throw new Error(`spec.schedule.gamma must be in (0, 1], got ${schedule.gamma}`);
      }
      return;
    default:
      throw new Error(`spec.schedule.kind must be 'constant', 'cosine' or 'step', got ${JSON.stringify((schedule as { kind: unknown }).kind)}`);
  }
}

/** The learning rate for global step `step` (0-based) of a run with `stepsPerEpoch` batches per epoch. */
export function learningRateAt(spec: Pick<TrainSpec, 'learningRate' | 'epochs' | 'schedule'>, step: number, stepsPerEpoch: number): number {
  const schedule: ScheduleSpec = spec.schedule ?? { kind: 'constant' };
  const peak = spec.learningRate;
  const warmupSteps = Math.round((schedule.warmupEpochs ?? 0) * stepsPerEpoch);
  if (step < warmupSteps) return peak * (step + 1) / warmupSteps;
  const after = step - warmupSteps;
  switch (schedule.kind) {
    case 'constant':
      return peak;
    case 'cosine': {
      const min = schedule.minLearningRate ?? 0;
      const span = spec.epochs * stepsPerEpoch - warmupSteps;
      if (span <= 0) return peak;
      const progress = Math.min(1, after / span);
      return min + (peak - min) * (1 + Math.cos(Math.PI * progress)) / 2;
    }
    case 'step': {
      const every = Math.max(1, Math.round(schedule.stepEpochs * stepsPerEpoch));
      return peak * schedule.gamma ** Math.floor(after / every);
    }
  }
}
