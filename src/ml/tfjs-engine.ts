/**
 * The TensorFlow.js training engine. It runs on whichever backend `initBackend` chose
 * (native TensorFlow, wasm with this project's kernels, or cpu); see backend.ts.
 */
import { type BackendPreference, activeBackend, initBackend } from './backend.js';
import { buildModel } from './build-model.js';
import { embedImages } from './embed.js';
import type { Embeddings, GradCamRequest, GradCamResult, ImageBatchSource, InferenceBenchmark, ModelBytes, ModelSpec, TrainOutcome, TrainRequest, TrainingEngine } from './engine.js';
import { gradCam } from './grad-cam.js';
import { benchmarkInference, predictProbabilities } from './inference.js';
import { modelFromBytes } from './model-bytes.js';
import { runTraining } from './train-loop.js';
import { buildTransferModel } from './transfer.js';

export interface TfjsEngineOptions {
  /**
   * Backend to make active before each call. Defaults to the one already chosen with
   * `initBackend` in this process, or 'auto' if none was.
   */
  backend?: BackendPreference;
  /** XNNPACK threads when the backend is wasm. Defaults to 2 (see BackendOptions). */
  wasmThreads?: number;
  /** Batches between onProgress calls. Defaults to 20. */
  progressEvery?: number;
  /** Reads ModelSpec.backbone files for paramsCount (defaults to local paths and file:// URIs). */
  readBackboneFile?: (uri: string) => Promise<Uint8Array>;
}

export function createTfjsEngine(options: TfjsEngineOptions = {}): TrainingEngine {
  const ensureBackend = async (): Promise<void> => {
    if (options.backend !== undefined) await initBackend(options.backend, { wasmThreads: options.wasmThreads });
    else if (activeBackend() === undefined) await initBackend('auto', { wasmThreads: options.wasmThreads });
  };

  return {
    name: 'tfjs',

    backend(): string {
      return activeBackend() ?? 'uninitialised';
    },

    async paramsCount(model: ModelSpec): Promise<number> {
      await ensureBackend();
      // Counting needs built layers; the seed does not change the count. A transfer model counts
      // its backbone (cut at cutLayer) plus the new head, frozen weights included.
      const built = model.backbone !== undefined ? await buildTransferModel(model, 0, { read: options.readBackboneFile }) : buildModel(model, 0);
      try {
        return built.countParams();
      } finally {
        built.dispose();
      }
    },

    async train(request: TrainRequest): Promise<TrainOutcome> {
      await ensureBackend();
      return runTraining(request, { progressEvery: options.progressEvery });
    },

    async predict(model: ModelBytes, data: ImageBatchSource, batchSize?: number): Promise<Float32Array> {
      await ensureBackend();
      return predictProbabilities(model, data, batchSize);
    },

    async benchmark(model: ModelBytes, data: ImageBatchSource, benchmarkOptions?: { batchSize?: number; seconds?: number }): Promise<InferenceBenchmark> {
      await ensureBackend();
      return benchmarkInference(model, data, benchmarkOptions);
    },

    async embed(model: ModelBytes, data: ImageBatchSource, embedOptions?: { batchSize?: number; layer?: string }): Promise<Embeddings> {
      await ensureBackend();
      const loaded = await modelFromBytes(model);
      try {
        return embedImages(loaded, data, embedOptions);
      } finally {
        loaded.dispose();
      }
    },

    async gradCam(request: GradCamRequest): Promise<GradCamResult> {
      await ensureBackend();
      const loaded = await modelFromBytes(request.model);
      try {
        return gradCam(loaded, request.data, request.indices, {
          ...(request.classes !== undefined ? { classes: request.classes } : {}),
          ...(request.layer !== undefined ? { layer: request.layer } : {}),
        });
      } finally {
        loaded.dispose();
      }
    },
  };
}
