/**
 * Phase 5 for a model the torch engine trained: export it to ONNX (torch.onnx, in the engine's
 * child) and benchmark the ONNX file with onnxruntime-node, the runtime a deployment would use.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ImageBatchSource, ModelBytes } from './engine.js';
import { type OnnxBenchmark, type OnnxBenchmarkOptions, benchmarkOnnx } from './onnx-benchmark.js';

/** Writes `model` as an ONNX file at `outputPath` (TorchEngine.exportOnnx). */
export type OnnxExporter = (model: ModelBytes, outputPath: string) => Promise<unknown>;

/** `model` exported to ONNX, as the file's bytes. */
export async function exportOnnxBytes(model: ModelBytes, exportOnnx: OnnxExporter): Promise<Uint8Array> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dv-onnx-'));
  try {
    const file = path.join(dir, 'model.onnx');
    await exportOnnx(model, file);
    return new Uint8Array(await readFile(file));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function exportAndBenchmarkOnnx(
  model: ModelBytes,
  data: ImageBatchSource,
  exportOnnx: OnnxExporter,
  options: OnnxBenchmarkOptions = {},
): Promise<{ bench: OnnxBenchmark; onnx: Uint8Array }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dv-onnx-'));
  try {
    const file = path.join(dir, 'model.onnx');
    await exportOnnx(model, file);
    const bench = await benchmarkOnnx(file, data, options);
    return { bench, onnx: new Uint8Array(await readFile(file)) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
