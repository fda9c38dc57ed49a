/**
 * Which engine trains, and which one reads a stored model. A worker holds the tfjs engine and,
 * started on first use, the torch engine:
 * - training: the worker's `--engine` when given, else the run's `training.engine`; 'auto'
 *   means torch when PyTorch sees a CUDA card, else tfjs (a worker without PyTorch falls back
 *   to tfjs and says why);
 * - predict/benchmark/embed/gradCam: whichever engine wrote the model bytes (the torch engine's
 *   start with 'DVTM0001'), so evaluation works whatever trained the model.
 */
import type { Logger } from '../activities/logger.js';
import type { GradCamRequest, ImageBatchSource, ModelBytes, ModelSpec, TrainRequest, TrainingEngine } from './engine.js';
import { type TorchEngine, type TorchEngineOptions, createTorchEngine } from './torch-engine.js';
import { isTorchModel } from './torch-model-bytes.js';

export const ENGINE_CHOICES = ['tfjs', 'torch', 'auto'] as const;
export type EngineChoice = (typeof ENGINE_CHOICES)[number];

export function parseEngineChoice(value: string, what = '--engine'): EngineChoice {
  if (!(ENGINE_CHOICES as readonly string[]).includes(value)) throw new Error(`${what} must be one of ${ENGINE_CHOICES.join(', ')}, got "${value}"`);
  return value as EngineChoice;
}

export interface EngineSelection {
  /** Routes inference calls by the model bytes; trains with tfjs (use `forTraining` to choose). */
  readonly engine: TrainingEngine;
  /** The engine that trains a run whose config says `configured` (the worker's override wins). */
  forTraining(configured: EngineChoice | undefined): Promise<TrainingEngine>;
  /** Exports a torch-engine model to an ONNX file (starts the torch engine if needed). */
  exportOnnx(model: ModelBytes, outputPath: string): Promise<unknown>;
  close(): Promise<void>;
}

export interface EngineSelectionOptions {
  tfjs: TrainingEngine;
  /** This worker's choice; overrides the run's training.engine. */
  override?: EngineChoice;
  torch?: TorchEngineOptions;
  logger: Logger;
  /** For tests: builds the torch engine. */
  createTorch?: (options: TorchEngineOptions) => TorchEngine;
}

export function createEngineSelection(options: EngineSelectionOptions): EngineSelection {
  const { tfjs, logger } = options;
  let torch: TorchEngine | undefined;
  const torchEngine = (): TorchEngine => {
    torch ??= (options.createTorch ?? createTorchEngine)({ logger, ...options.torch });
    return torch;
  };
  let autoChoice: Promise<TrainingEngine> | undefined;
  const auto = (): Promise<TrainingEngine> => {
    autoChoice ??= torchEngine().start().then(
      (ready) => {
        if (ready.cuda) {
          logger.info(`engine auto: torch on CUDA (${ready.deviceName})`);
          return torchEngine() as TrainingEngine;
        }
        logger.info('engine auto: tfjs (PyTorch sees no CUDA card)');
        return tfjs;
      },
      (error: unknown) => {
        logger.warn(`engine auto: tfjs (the torch engine is unavailable: ${error instanceof Error ? error.message : String(error)})`);
        return tfjs;
      },
    );
    return autoChoice;
  };
  const forModel = (model: ModelBytes): TrainingEngine => (isTorchModel(model) ? torchEngine() : tfjs);

  const engine: TrainingEngine = {
    name: tfjs.name,
    backend: () => tfjs.backend(),
    paramsCount: (spec: ModelSpec) => tfjs.paramsCount(spec),
    train: (request: TrainRequest) => tfjs.train(request),
    predict: (model, data, batchSize) => forModel(model).predict(model, data, batchSize),
    benchmark: (model, data, benchmarkOptions) => forModel(model).benchmark(model, data, benchmarkOptions),
    embed(model: ModelBytes, data: ImageBatchSource, embedOptions?: { batchSize?: number; layer?: string }) {
      const target = forModel(model);
      if (target.embed === undefined) throw new Error(`the ${target.name} engine cannot embed`);
      return target.embed(model, data, embedOptions);
    },
    gradCam(request: GradCamRequest) {
      const target = forModel(request.model);
      if (target.gradCam === undefined) throw new Error(`the ${target.name} engine has no Grad-CAM`);
      return target.gradCam(request);
    },
    close: () => close(),
  };

  async function close(): Promise<void> {
    await Promise.all([torch?.close(), tfjs.close?.()]);
  }

  return {
    engine,
    async forTraining(configured) {
      const choice = options.override ?? configured ?? 'tfjs';
      if (options.override !== undefined && configured !== undefined && configured !== options.override) {
        logger.info(`engine ${options.override} (this worker's --engine; the run's training.engine is ${configured})`);
      }
      if (choice === 'tfjs') return tfjs;
      if (choice === 'auto') return auto();
      const chosen = torchEngine();
      await chosen.start();
      return chosen;
    },
    exportOnnx: (model, outputPath) => torchEngine().exportOnnx(model, outputPath),
    close,
  };
}
