/**
 * A model the torch engine trained, exported to ONNX (torch.onnx, in the engine's child): stored
 * when training ends, evaluated without PyTorch and benchmarked in phase 5 with onnxruntime-node,
 * the runtime a deployment would use.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ModelBytes } from './engine.js';

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
