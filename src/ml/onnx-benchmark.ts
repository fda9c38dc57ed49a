/**
 * Inference benchmark of an ONNX model with onnxruntime-node (CPU execution provider), the
 * runtime a deployment would use: throughput at a batch size for half of `seconds`, then
 * batch-1 latency for the other half, as the engines' own benchmarks measure (inference.ts).
 * The model takes NHWC float32 pixels already scaled (as the torch engine exports them:
 * engines/torch/durable_vision_torch/infer.py) and returns class probabilities.
 */
import { createRequire } from 'node:module';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { percentile } from '../core/metrics.js';
import type { ImageBatchSource, InferenceBenchmark } from './engine.js';

const require = createRequire(import.meta.url);

export interface OnnxBenchmarkOptions {
  /** Defaults to 64. */
  batchSize?: number;
  /** Defaults to 4. */
  seconds?: number;
  /** Intra-op threads of the session. Defaults to onnxruntime's choice (the machine's cores). */
  threads?: number;
}

export interface OnnxBenchmark extends InferenceBenchmark {
  /** e.g. 'onnxruntime-node 1.30.0 (cpu)'. */
  runtime: string;
}

/** The onnxruntime-node version in use. */
export function onnxRuntimeVersion(): string {
  return (require('onnxruntime-node/package.json') as { version: string }).version;
}

/** The runtime ONNX models run on here, as reports name it: e.g. 'onnxruntime-node 1.30.0 (cpu)'. */
export function onnxRuntimeName(): string {
  return `onnxruntime-node ${onnxRuntimeVersion()} (cpu)`;
}

/** NHWC float32 input of rows `rows` of `data`, scaled as the source says. */
function inputOf(ort: typeof import('onnxruntime-node'), data: ImageBatchSource, rows: number[]): Tensor {
  const [h, w, c] = data.shape;
  const n = h * w * c;
  const [scale, offset] = data.scaling === '0-1' ? [1 / 255, 0] : [1 / 127.5, -1];
  const values = new Float32Array(rows.length * n);
  rows.forEach((row, i) => {
    for (let p = 0; p < n; p++) values[i * n + p] = data.images[row * n + p]! * scale + offset;
  });
  return new ort.Tensor('float32', values, [rows.length, h, w, c]);
}

async function timeRuns(seconds: number, minRuns: number, step: (run: number) => Promise<void>): Promise<number[]> {
  const times: number[] = [];
  const deadline = performance.now() + seconds * 1000;
  while (times.length < minRuns || performance.now() < deadline) {
    const t0 = performance.now();
    await step(times.length);
    times.push(performance.now() - t0);
  }
  return times;
}

/** Class probabilities (`count * classes`, row-major) of every image of `data` from an ONNX model's bytes. */
export async function predictOnnx(model: Uint8Array, data: ImageBatchSource, batchSize = 64): Promise<Float32Array> {
  const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
  const session = await ort.InferenceSession.create(model, { executionProviders: ['cpu'], graphOptimizationLevel: 'all' });
  try {
    const inputName = session.inputNames[0];
    const outputName = session.outputNames[0];
    if (inputName === undefined || outputName === undefined) throw new Error('the ONNX model has no input or no output');
    let out: Float32Array | undefined;
    let classes = 0;
    for (let start = 0; start < data.count; start += batchSize) {
      const rows = Array.from({ length: Math.min(batchSize, data.count - start) }, (_, i) => start + i);
      const input = inputOf(ort, data, rows);
      const result = await session.run({ [inputName]: input });
      input.dispose();
      const probs = result[outputName]!;
      classes = Number(probs.dims[1]);
      out ??= new Float32Array(data.count * classes);
      out.set(probs.data as Float32Array, start * classes);
      for (const t of Object.values(result)) t.dispose();
    }
    return out ?? new Float32Array(0);
  } finally {
    await session.release();
  }
}

/** Benchmarks the ONNX model at `model` (a file path or the file's bytes) on images of `data`. */
export async function benchmarkOnnx(model: string | Uint8Array, data: ImageBatchSource, options: OnnxBenchmarkOptions = {}): Promise<OnnxBenchmark> {
  const batchSize = options.batchSize ?? 64;
  const seconds = options.seconds ?? 4;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`benchmark batchSize must be an integer >= 1, got ${batchSize}`);
  if (!(seconds > 0)) throw new Error(`benchmark seconds must be > 0, got ${seconds}`);
  if (!(Number.isInteger(data.count) && data.count >= 1)) throw new Error(`data.count must be an integer >= 1, got ${data.count}`);
  const ort = require('onnxruntime-node') as typeof import('onnxruntime-node');
  const sessionOptions: InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    ...(options.threads !== undefined ? { intraOpNumThreads: options.threads } : {}),
  };
  const session = typeof model === 'string' ? await ort.InferenceSession.create(model, sessionOptions) : await ort.InferenceSession.create(model, sessionOptions);
  try {
    const inputName = session.inputNames[0];
    if (inputName === undefined) throw new Error('the ONNX model has no input');
    const batch = inputOf(ort, data, Array.from({ length: batchSize }, (_, i) => i % data.count));
    const singles = Array.from({ length: Math.min(16, data.count) }, (_, i) => inputOf(ort, data, [i]));
    const run = async (x: Tensor) => {
      const out = await session.run({ [inputName]: x });
      for (const t of Object.values(out)) t.dispose();
    };
    for (let i = 0; i < 2; i++) {
      await run(batch);
      await run(singles[0]!);
    }
    const batchTimes = await timeRuns(seconds / 2, 3, () => run(batch));
    const latencies = await timeRuns(seconds / 2, 10, (i) => run(singles[i % singles.length]!));
    const totalMs = batchTimes.reduce((a, b) => a + b, 0);
    return {
      throughputImgPerS: (batchTimes.length * batchSize) / (totalMs / 1000),
      batchSize,
      latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), mean: latencies.reduce((a, b) => a + b, 0) / latencies.length },
      iterations: latencies.length,
      runtime: onnxRuntimeName(),
    };
  } finally {
    await session.release();
  }
}
