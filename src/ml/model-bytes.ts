/**
 * A tf.LayersModel as one Uint8Array (topology + weight specs in the header, weights as the
 * payload) and back. Weights are float32 as trained, so a round trip predicts identically.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelBytes } from './engine.js';
import { decodeFramed, encodeFramed } from './framed-bytes.js';
import { skipInputGradients } from './layers/input-conv.js';
import { registerArchitectureLayers } from './layers/register-layers.js';

const MAGIC = 'DVM1';

interface ModelHeader {
  format: 'durable-vision/layers-model';
  version: 1;
  modelTopology: tf.io.ModelArtifacts['modelTopology'];
  weightSpecs: tf.io.WeightsManifestEntry[];
}

export async function modelToBytes(model: tf.LayersModel): Promise<ModelBytes> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler((artifacts) => {
    captured = artifacts;
    return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } });
  }));
  if (captured?.modelTopology === undefined || captured.weightSpecs === undefined) {
    throw new Error(`model ${model.name} saved without topology or weight specs`);
  }
  const weights = captured.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(captured.weightData);
  const header: ModelHeader = {
    format: 'durable-vision/layers-model',
    version: 1,
    modelTopology: captured.modelTopology,
    weightSpecs: captured.weightSpecs,
  };
  return encodeFramed(MAGIC, header, new Uint8Array(weights));
}

export async function modelFromBytes(bytes: ModelBytes): Promise<tf.LayersModel> {
  const { header, payload } = decodeFramed<ModelHeader>(MAGIC, bytes, 'model bytes');
  if (header.format !== 'durable-vision/layers-model' || header.version !== 1) {
    throw new Error(`model bytes: expected format durable-vision/layers-model v1, got ${header.format} v${header.version}`);
  }
  // Saved models may hold this project's layer classes; register them here so loading never
  // depends on whether build-model.ts was imported.
  registerArchitectureLayers();
  const model = await tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: header.modelTopology,
    weightSpecs: header.weightSpecs,
    weightData: payload,
  }));
  // Trains as the built model did: no gradient for the images.
  skipInputGradients(model);
  return model;
}
