/**
 * The optional `sweep` section of the run config: what to search, how to sample and prune, what
 * to optimise and how much to spend. Checked against the rest of the config before anything
 * runs, so a space that would give an invalid trial fails at the boundary, naming the field.
 */
import { z } from 'zod';
import { parseSearchSpace, type ParamValue, type SearchSpace } from './search/index.js';
import { applyTrialConfig, isSweepablePath, SWEEPABLE_PATHS, type TrialSections } from './sweep-space.js';

const schedulerSchema = z.preprocess(
  // `scheduler: asha` is short for `scheduler: { kind: asha }`.
  (value) => (typeof value === 'string' ? { kind: value } : value),
  z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('none') }).strict(),
    z
      .object({
        kind: z.literal('asha'),
        /** Epochs every trial gets before it can be stopped (the first rung). */
        minEpochs: z.number().int().min(1).default(1),
        /** eta: a trial reaching a rung goes on only if in the top 1/eta there. */
        reductionFactor: z.number().int().min(2).max(10).default(3),
        /**
         * 'stop': a trial reaching a rung goes on at once if it is in the top 1/eta of the results
         * there so far, else it is pruned (the first trial at a rung always goes on).
         * 'promote': a trial reaching a rung pauses there; a free slot promotes a paused trial in
         * the top 1/eta of its rung before it starts a new trial, so no trial trains past a rung
         * until enough others have been seen there (ASHA as Li et al. describe it). When the
         * sweep can start no more trials, the best paused trial of each rung with none promoted
         * yet goes on, so at least one trial reaches training.epochs.
         */
        mode: z.enum(['stop', 'promote']).default('stop'),
      })
      .strict(),
    z
      .object({
        kind: z.literal('median'),
        /** No trial is stopped before this many epochs. */
        gracePeriod: z.number().int().min(0).default(1),
        /** Other trials that must have reached an epoch before the rule applies there. */
        minTrials: z.number().int().min(1).default(3),
      })
      .strict(),
  ]),
);

export const sweepConfigSchema = z
  .object({
    /** Parameter name (a sweepable config path, e.g. training.learningRate) -> definition. */
    space: z.record(z.unknown()),
    /** How configurations are proposed. */
    sampler: z.enum(['grid', 'random', 'tpe']).default('tpe'),
    /** Seeds the sampler: the same seed proposes the same trials. */
    seed: z.number().int().default(0),
    /** Grid points per continuous axis (grid sampler). */
    gridPoints: z.number().int().min(1).max(100).default(5),
    /** Early stopping of poor trials; every trial's maximum is training.epochs. */
    scheduler: schedulerSchema.default({ kind: 'asha' }),
    /** Validation metric trials are ranked by. */
    metric: z.enum(['val_accuracy', 'val_loss']).default('val_accuracy'),
    /** Trials to run in all (the budget; `sweep extend` raises it while the sweep runs). */
    trials: z.number().int().min(1).max(100_000).default(10),
    /** Trials training at once (across all GPU workers). */
    concurrency: z.number().int().min(1).max(1000).default(1),
    /** Stop the sweep once a trial reaches this metric (>= for accuracy, <= for loss). */
    targetMetric: z.number().optional(),
    /**
     * How a trial rung's training runs on its GPU worker. 'activity': dispatched by the Temporal
     * server, heartbeating, so a lost worker is noticed within training.heartbeatTimeoutSeconds;
     * for trials of any length. 'local-activity': run by the GPU worker that runs the trial's
     * workflow task, which saves a server round trip or two a rung; for short trials (seconds to
     * minutes), since it cannot heartbeat and keeps the workflow task open while it trains.
     * 'auto': activities, switching to local activities while the sweep's recent rungs all
     * finish within a minute (src/core/rung-execution.ts).
     */
    trialExecution: z.enum(['auto', 'activity', 'local-activity']).default('auto'),
    /** The longest one attempt of a local-activity rung may run before it is retried from its checkpoint. */
    localRungTimeoutSeconds: z.number().int().min(10).max(86_400).default(1800),
  })
  .strict();

export type SweepConfig = z.infer<typeof sweepConfigSchema>;
export type SweepSchedulerConfig = SweepConfig['scheduler'];

interface SectionSchemas {
  model: z.ZodTypeAny;
  training: z.ZodTypeAny;
}

export interface SweepIssue {
  path: (string | number)[];
  message: string;
}

/**
 * Cross-field checks of a sweep section against the sections it varies. Every value a trial
 * can get at the ends of each range (and every choice) is written into the config and the
 * section re-validated, so e.g. `high: 10000` for training.batchSize is refused here.
 */
export function sweepIssues(config: TrialSections & { sweep?: SweepConfig; dataset: { split: { val: number } } }, schemas: SectionSchemas): SweepIssue[] {
  const sweep = config.sweep;
  if (sweep === undefined) return [];
  const issues: SweepIssue[] = [];
  for (const name of Object.keys(sweep.space)) {
    if (!isSweepablePath(name)) {
      issues.push({ path: ['sweep', 'space', name], message: `unknown parameter "${name}": a sweep parameter is the config field it sets, one of ${Object.keys(SWEEPABLE_PATHS).join(', ')}` });
    }
  }
  if (issues.length > 0) return issues;
  let space: SearchSpace;
  try {
    space = parseSearchSpace(sweep.space, 'sweep.space');
  } catch (err) {
    return [{ path: ['sweep', 'space'], message: (err as Error).message }];
  }
  for (const param of space.params) {
    const values: ParamValue[] = param.type === 'choice' ? param.values : [param.low, param.high];
    for (const value of values) {
      const where = param.type === 'choice' ? 'values' : value === param.low ? 'low' : 'high';
      const problem = trialProblem(config, param.name, value, schemas);
      if (problem !== undefined) issues.push({ path: ['sweep', 'space', param.name, where], message: `${JSON.stringify(value)} is not a valid ${param.name}: ${problem}` });
    }
  }
  if (config.dataset.split.val === 0) {
    issues.push({ path: ['sweep', 'metric'], message: `trials are ranked by ${sweep.metric} on the validation split: set dataset.split.val above 0` });
  }
  if (sweep.scheduler.kind === 'asha' && sweep.scheduler.minEpochs > config.training.epochs) {
    issues.push({
      path: ['sweep', 'scheduler', 'minEpochs'],
      message: `minEpochs is ${sweep.scheduler.minEpochs}, above training.epochs (${config.training.epochs}), the epochs a trial gets at most`,
    });
  }
  if (sweep.targetMetric !== undefined && sweep.metric === 'val_accuracy' && !(sweep.targetMetric > 0 && sweep.targetMetric <= 1)) {
    issues.push({ path: ['sweep', 'targetMetric'], message: `val_accuracy targets lie in (0, 1], got ${sweep.targetMetric}` });
  }
  return issues;
}

function trialProblem(config: TrialSections, name: string, value: ParamValue, schemas: SectionSchemas): string | undefined {
  let trial: TrialSections;
  try {
    trial = applyTrialConfig({ model: config.model, training: config.training }, { [name]: value });
  } catch (err) {
    return (err as Error).message;
  }
  const section = name.startsWith('model.') ? 'model' : 'training';
  const result = schemas[section].safeParse(trial[section]);
  if (result.success) return undefined;
  // Only what the value itself breaks: a problem elsewhere in the section is reported at its own field.
  const own = result.error.issues.filter((i) => {
    const at = [section, ...i.path].join('.');
    return at === name || at.startsWith(`${name}.`) || name.startsWith(`${at}.`);
  });
  if (own.length === 0) return undefined;
  return own.map((i) => `${[section, ...i.path].join('.')}: ${i.message}`).join('; ');
}
