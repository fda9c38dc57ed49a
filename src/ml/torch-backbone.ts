/**
 * A ModelSpec.backbone made ready for the torch engine: the model.json and its weight shards
 * are read here (local path, file:// or the caller's reader, e.g. the store's s3:// URIs), the
 * topology is given the run's input shape and cut at `cutLayer` (as transfer.ts does for tfjs),
 * and the kept layers' weights are dequantized into one little-endian float32 file. The child
 * (engines/torch/durable_vision_torch/keras_graph.py) rebuilds the layers from the topology and
 * stores the cut topology in its model bytes, so a checkpoint needs nothing else to load.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ModelSpec } from './engine.js';
import { cutTopology, loadModelArtifacts, readLocalFile, validateModelSpecWithBackbone, withInputShape } from './transfer.js';

export interface TorchBackboneFields {
  /** The cut Keras topology (model_config or config with layers, input_layers, output_layers). */
  topology: unknown;
  /** float32 little-endian values of `weightSpecs`, concatenated in order. */
  weightsFile: string;
  weightSpecs: { name: string; shape: number[] }[];
}

interface LayerJson {
  name?: string;
  class_name?: string;
  config?: { name?: string; batch_input_shape?: (number | null)[] };
}

function topologyLayers(topology: unknown): LayerJson[] {
  const t = topology as { model_config?: { config?: { layers?: LayerJson[] } }; config?: { layers?: LayerJson[] } };
  return t.model_config?.config?.layers ?? t.config?.layers ?? [];
}

/** The layer a stored weight belongs to: its name up to the last '/' ('block_1/conv/kernel' -> 'block_1/conv'). */
function ownerLayer(weightName: string): string {
  const slash = weightName.lastIndexOf('/');
  return slash < 0 ? '' : weightName.slice(0, slash);
}

/**
 * `spec` with `backbone` extended by TorchBackboneFields; the weights file is written into `dir`.
 * Throws, naming the URI and layer, when the model.json cannot be read or has no `cutLayer`.
 */
export async function prepareTorchBackbone(
  spec: ModelSpec, dir: string, read: (uri: string) => Promise<Uint8Array> = readLocalFile,
): Promise<ModelSpec & { backbone: NonNullable<ModelSpec['backbone']> & TorchBackboneFields }> {
  validateModelSpecWithBackbone(spec);
  const backbone = spec.backbone!;
  let artifacts = await loadModelArtifacts(backbone.uri, read);
  const input = topologyLayers(artifacts.modelTopology).find((l) => l.class_name === 'InputLayer')?.config?.batch_input_shape;
  if (input?.slice(1).join(',') !== spec.inputShape.join(',')) artifacts = withInputShape(artifacts, spec.inputShape);
  try {
    artifacts = cutTopology(artifacts, backbone.cutLayer);
  } catch (error) {
    throw new Error(`backbone ${backbone.uri}: ${(error as Error).message}`);
  }
  const kept = new Set(topologyLayers(artifacts.modelTopology).map((l) => l.name ?? l.config?.name ?? ''));
  const specs = (artifacts.weightSpecs ?? []).filter((w) => kept.has(ownerLayer(w.name)));
  const weightSpecs: TorchBackboneFields['weightSpecs'] = [];
  const parts: Float32Array[] = [];
  if (specs.length > 0) {
    const data = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
    // decodeWeights needs every spec in order (offsets are cumulative); the dropped layers' values are disposed unread.
    const decoded = tf.io.decodeWeights(data, artifacts.weightSpecs ?? []);
    try {
      for (const w of specs) {
        const tensor = decoded[w.name];
        if (tensor === undefined) throw new Error(`backbone ${backbone.uri}: weight ${w.name} is listed but not stored`);
        if (tensor.dtype !== 'float32') throw new Error(`backbone ${backbone.uri}: weight ${w.name} is ${tensor.dtype}; only float32 weights (quantized or not) can be used`);
        parts.push(tensor.dataSync() as Float32Array);
        weightSpecs.push({ name: w.name, shape: [...w.shape] });
      }
    } finally {
      tf.dispose(Object.values(decoded));
    }
  }
  const total = parts.reduce((n, p) => n + p.length, 0);
  const values = new Float32Array(total);
  let offset = 0;
  for (const p of parts) {
    values.set(p, offset);
    offset += p.length;
  }
  const weightsFile = path.join(dir, 'backbone.f32');
  await writeFile(weightsFile, new Uint8Array(values.buffer));
  return { ...spec, backbone: { ...backbone, topology: artifacts.modelTopology, weightsFile, weightSpecs } };
}
