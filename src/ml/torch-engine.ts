/**
 * The PyTorch training engine: the TrainingEngine contract over a Python child process
 * (torch-process.ts, engines/torch). Pixels, labels and model bytes travel through files in a
 * per-request temporary folder, never through the JSON lines. Model bytes are the child's own
 * self-describing format ('DVTM0001' header with the ModelSpec, then the state_dict); the
 * optimizer bytes of a checkpoint hold the optimizer state, step, seed and RNG states.
 *
 * Progress lines become onProgress calls (heartbeats); every epoch's checkpoint is read back and
 * handed to onEpochEnd before the child continues. Aborting sends a cancel line (the child stops
 * at the next batch boundary); a child that does not answer within `abortGraceMs` is killed.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Logger } from '../activities/logger.js';
import type {
  Checkpoint, Embeddings, EpochReport, GradCamRequest, GradCamResult, ImageBatchSource, InferenceBenchmark, ModelBytes, ModelSpec, TrainOutcome, TrainRequest,
  TrainingEngine,
} from './engine.js';
import { TrainingDivergedError } from './train-loop.js';
import { prepareTorchBackbone } from './torch-backbone.js';
import { TorchProcess, TorchProtocolError, type TorchReady } from './torch-process.js';

export { isTorchModel } from './torch-model-bytes.js';

export interface TorchEngineOptions {
  /** Python interpreter; see TorchProcessOptions. */
  python?: string;
  /** Defaults to 'auto' (CUDA when torch sees a card). */
  device?: 'auto' | 'cpu' | 'cuda';
  /** torch.set_num_threads. Unset = PyTorch's default (the machine's cores). */
  threads?: number;
  /** Batches between progress lines. Defaults to 20. */
  progressEvery?: number;
  /** 'bf16' runs forward passes under CUDA bf16 autocast (ignored on CPU). Defaults to full fp32. */
  precision?: 'bf16';
  /** After an abort, how long the child may take to stop before it is killed. Defaults to 5000 ms. */
  abortGraceMs?: number;
  /** Reads ModelSpec.backbone files for paramsCount (train uses TrainRequest.readBackboneFile); defaults to local files. */
  readBackboneFile?: (uri: string) => Promise<Uint8Array>;
  logger?: Logger;
}

export interface TorchEngine extends TrainingEngine {
  /** Starts the child (once) and reports the versions and the device it uses. */
  start(): Promise<TorchReady>;
  /** Writes the model as ONNX (NHWC scaled pixels in, probabilities out) to `outputPath`. */
  exportOnnx(model: ModelBytes, outputPath: string, options?: { opset?: number }): Promise<{ inputName: string; outputName: string; opset: number }>;
  close(): Promise<void>;
}

async function withWorkDir<T>(use: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dv-torch-'));
  try {
    return await use(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Writes a source's pixels and labels; returns its description for a request. */
async function writeSource(dir: string, name: string, source: ImageBatchSource): Promise<Record<string, unknown>> {
  const images = path.join(dir, `${name}.u8`);
  const labels = path.join(dir, `${name}.i32`);
  await writeFile(images, source.images);
  await writeFile(labels, new Uint8Array(source.labels.buffer, source.labels.byteOffset, source.labels.byteLength));
  return { images, labels, count: source.count, shape: source.shape, scaling: source.scaling };
}

async function writeModel(dir: string, model: ModelBytes): Promise<string> {
  const file = path.join(dir, 'model.bin');
  await writeFile(file, model);
  return file;
}

async function readFloats(file: string): Promise<Float32Array> {
  const bytes = await readFile(file);
  return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4).slice();
}

function abortError(signal: AbortSignal, message: string): Error {
  const error = new Error(message, { cause: signal.reason });
  error.name = 'AbortError';
  return error;
}

/** The child's error line as the error the TypeScript engine would throw. */
function translate(error: unknown): unknown {
  if (!(error instanceof TorchProtocolError)) return error;
  const { type, message, details } = error.protocol;
  if (type === 'TrainingDivergedError') return new TrainingDivergedError(message, details?.epoch ?? 0, details?.step ?? 0, details?.lastGoodEpoch ?? 0);
  if (type === 'InvalidRequest') return new Error(message);
  return error;
}

export function createTorchEngine(options: TorchEngineOptions = {}): TorchEngine {
  const child = new TorchProcess({ python: options.python, device: options.device, threads: options.threads, logger: options.logger });
  let ready: TorchReady | undefined;
  const start = async (): Promise<TorchReady> => {
    const first = ready === undefined;
    ready = await child.start();
    if (first) options.logger?.info(`torch engine on ${ready.device} (${ready.deviceName}), torch ${ready.torch}, torchvision ${ready.torchvision}, ${ready.threads} threads`);
    return ready;
  };
  const call = async (op: string, body: Record<string, unknown>): Promise<Record<string, unknown>> => {
    await start();
    return child.request(op, { ...body, ...(options.threads !== undefined ? { threads: options.threads } : {}) }).catch((error: unknown) => {
      throw translate(error);
    });
  };

  return {
    name: 'torch',
    start,

    backend(): string {
      if (ready === undefined) return 'uninitialised';
      return ready.cuda && ready.device.startsWith('cuda') ? `torch-cuda:${ready.deviceName}` : 'torch-cpu';
    },

    async paramsCount(model: ModelSpec): Promise<number> {
      if (model.backbone === undefined) return (await call('paramsCount', { model })).paramsCount as number;
      return withWorkDir(async (dir) => {
        const result = await call('paramsCount', { model: await prepareTorchBackbone(model, dir, options.readBackboneFile) });
        return result.paramsCount as number;
      });
    },

    async train(request: TrainRequest): Promise<TrainOutcome> {
      const { signal } = request;
      if (signal?.aborted === true) throw abortError(signal, 'training aborted before it started');
      await start();
      // The run's training.precision, else this engine's setting.
      const precision = trainPrecision(request.spec.precision, options.precision);
      return withWorkDir(async (dir) => {
        // A backbone is read, cut and dequantized here; a resumed run's checkpoint already holds it.
        const model = request.model.backbone !== undefined && request.resume === undefined
          ? await prepareTorchBackbone(request.model, dir, request.readBackboneFile)
          : request.model;
        const body: Record<string, unknown> = {
          workDir: dir,
          model,
          spec: request.spec,
          train: await writeSource(dir, 'train', request.train),
          progressEvery: options.progressEvery ?? 20,
          ...(precision !== undefined ? { precision } : {}),
          ...(options.threads !== undefined ? { threads: options.threads } : {}),
        };
        if (request.val !== undefined) body.val = await writeSource(dir, 'val', request.val);
        if (request.augment !== undefined) body.augment = request.augment;
        if (request.resume !== undefined) {
          const model = path.join(dir, 'resume-model.bin');
          const optimizer = path.join(dir, 'resume-state.bin');
          await writeFile(model, request.resume.model);
          await writeFile(optimizer, request.resume.optimizer);
          body.resume = { epoch: request.resume.epoch, model, optimizer };
        }
        let id = 0;
        let aborted: Error | undefined;
        let killTimer: NodeJS.Timeout | undefined;
        const onAbort = () => {
          aborted = abortError(signal!, 'training aborted');
          child.send({ id, op: 'cancel' });
          killTimer = setTimeout(() => child.kill(), options.abortGraceMs ?? 5000);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        try {
          const result = await child.request('train', body, async (event) => {
            if (event.type === 'progress') {
              request.onProgress?.({ epoch: event.epoch, batch: event.batch, batches: event.batches });
              return;
            }
            const [model, optimizer] = await Promise.all([readFile(event.model), readFile(event.optimizer)]);
            const report = event.report as EpochReport;
            const checkpoint: Checkpoint = { epoch: report.epoch, model: new Uint8Array(model), optimizer: new Uint8Array(optimizer) };
            await request.onEpochEnd(report, checkpoint);
            child.send({ id, op: 'ack' });
          }, (assigned) => {
            id = assigned;
          });
          return {
            model: new Uint8Array(await readFile(result.model as string)),
            history: result.history as EpochReport[],
            paramsCount: result.paramsCount as number,
          };
        } catch (error) {
          if (aborted !== undefined) throw abortError(signal!, (error as Error).message.startsWith('training aborted') ? (error as Error).message : 'training aborted');
          throw translate(error);
        } finally {
          signal?.removeEventListener('abort', onAbort);
          if (killTimer !== undefined) clearTimeout(killTimer);
        }
      });
    },

    predict(model: ModelBytes, data: ImageBatchSource, batchSize?: number): Promise<Float32Array> {
      return withWorkDir(async (dir) => {
        const result = await call('predict', { workDir: dir, model: await writeModel(dir, model), data: await writeSource(dir, 'data', data), ...(batchSize !== undefined ? { batchSize } : {}) });
        return readFloats(result.path as string);
      });
    },

    benchmark(model: ModelBytes, data: ImageBatchSource, benchmarkOptions?: { batchSize?: number; seconds?: number }): Promise<InferenceBenchmark> {
      return withWorkDir(async (dir) => {
        const result = await call('benchmark', {
          workDir: dir, model: await writeModel(dir, model), data: await writeSource(dir, 'data', data), ...benchmarkOptions,
          ...(options.precision !== undefined ? { precision: options.precision } : {}),
        });
        const { throughputImgPerS, batchSize, latencyMs, iterations } = result as unknown as InferenceBenchmark;
        return { throughputImgPerS, batchSize, latencyMs, iterations };
      });
    },

    embed(model: ModelBytes, data: ImageBatchSource, embedOptions?: { batchSize?: number; layer?: string }): Promise<Embeddings> {
      return withWorkDir(async (dir) => {
        const result = await call('embed', { workDir: dir, model: await writeModel(dir, model), data: await writeSource(dir, 'data', data), ...embedOptions });
        return { values: await readFloats(result.path as string), dim: result.dim as number, layer: result.layer as string };
      });
    },

    gradCam(request: GradCamRequest): Promise<GradCamResult> {
      return withWorkDir(async (dir) => {
        const result = await call('gradCam', {
          workDir: dir, model: await writeModel(dir, request.model), data: await writeSource(dir, 'data', request.data), indices: request.indices,
          ...(request.classes !== undefined ? { classes: request.classes } : {}), ...(request.layer !== undefined ? { layer: request.layer } : {}),
        });
        return {
          layer: result.layer as string,
          height: result.height as number,
          width: result.width as number,
          heatmaps: await readFloats(result.path as string),
          classes: result.classes as number[],
          probabilities: result.probabilities as number[],
        };
      });
    },

    exportOnnx(model: ModelBytes, outputPath: string, exportOptions?: { opset?: number }) {
      return withWorkDir(async (dir) => {
        const result = await call('export', { workDir: dir, model: await writeModel(dir, model), output: outputPath, ...exportOptions });
        return { inputName: result.inputName as string, outputName: result.outputName as string, opset: result.opset as number };
      });
    },

    close(): Promise<void> {
      return child.stop();
    },
  };
}

/** bf16 when the run or the engine asks for it; the child applies it on CUDA only. */
function trainPrecision(run: 'fp32' | 'bf16' | undefined, engine: 'bf16' | undefined): 'bf16' | undefined {
  if (run === 'fp32') return undefined;
  return run ?? engine;
}
