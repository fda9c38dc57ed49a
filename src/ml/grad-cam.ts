/**
 * Grad-CAM (Selvaraju et al., 2017) for tfjs layers models: the class score's gradient with
 * respect to a layer's feature map, averaged per channel, weights the channels; the ReLU of the
 * weighted sum, scaled to [0, 1] per image, shows where the evidence for the class lies.
 *
 * The model is split at the layer: a feature model (input -> layer output) and a head model (the
 * same layers, sharing weights, re-applied from a new input of the layer's shape), so the gradient
 * is taken with respect to the feature map itself. The split needs every path to the output to go
 * through the layer; a skip connection that bypasses it is refused with the layer's name.
 */
import * as tf from '@tensorflow/tfjs';
import type { GradCamResult, ImageBatchSource } from './engine.js';
import { BatchAssembler, validateSource } from './image-batches.js';

/** The model has no feature map Grad-CAM can use (a vision transformer), or the layer named cannot be used. */
export class GradCamUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GradCamUnavailableError';
  }
}

const FEATURE_COLLAPSERS = new Set(['GlobalAveragePooling2D', 'GlobalMaxPooling2D', 'Flatten']);
/** Spatial pooling without weights between the last convolution and the collapse: skipped back over, for resolution. */
const PLAIN_POOLS = new Set(['MaxPooling2D', 'AveragePooling2D']);

const isFeatureMap = (layer: tf.layers.Layer): boolean => {
  const shape = layer.outputShape;
  return Array.isArray(shape) && !Array.isArray(shape[0]) && shape.length === 4;
};

function inboundLayers(layer: tf.layers.Layer): tf.layers.Layer[] {
  return layer.inboundNodes.flatMap((node) => node.inboundLayers);
}

/**
 * The default layer: the feature map the classifier reads through global pooling or flattening
 * (the last one, when there are several), stepping back over plain max/average pooling so the map
 * keeps its resolution. That is the post-activation output of the last convolution block in the
 * CNNs built here (small-cnn's conv2, MobileNetV3's and EfficientNet's head_act, ResNet's last
 * block output). Throws GradCamUnavailableError when no layer qualifies.
 */
export function defaultGradCamLayer(model: tf.LayersModel): string {
  for (let i = model.layers.length - 1; i >= 0; i--) {
    const layer = model.layers[i] as tf.layers.Layer;
    if (!FEATURE_COLLAPSERS.has(layer.getClassName())) continue;
    const inputs = inboundLayers(layer);
    if (inputs.length !== 1 || !isFeatureMap(inputs[0] as tf.layers.Layer)) continue;
    let target = inputs[0] as tf.layers.Layer;
    while (PLAIN_POOLS.has(target.getClassName())) {
      const before = inboundLayers(target);
      if (before.length !== 1 || !isFeatureMap(before[0] as tf.layers.Layer) || (before[0] as tf.layers.Layer).getClassName() === 'InputLayer') break;
      target = before[0] as tf.layers.Layer;
    }
    return target.name;
  }
  throw new GradCamUnavailableError(
    `model ${model.name} has no 4-D feature map that reaches its classifier through global pooling or flattening (a vision transformer reads tokens), so Grad-CAM has no default layer${featureMapHint(model)}`,
  );
}

function featureMapHint(model: tf.LayersModel): string {
  const names = model.layers.filter((l) => l.getClassName() !== 'InputLayer' && isFeatureMap(l)).map((l) => l.name);
  if (names.length === 0) return '';
  const shown = names.length > 12 ? [...names.slice(0, 4), '...', ...names.slice(-8)] : names;
  return `; layers with a 4-D output: ${shown.join(', ')}`;
}

interface SplitModel {
  layer: string;
  features: tf.LayersModel;
  head: tf.LayersModel;
}

/**
 * Splits `model` at `layerName` (see the module comment). Dispose `head` (not `features`, which
 * owns no layers of its own) before the model, so the shared weights are released with it.
 */
export function splitAtLayer(model: tf.LayersModel, layerName: string): SplitModel {
  const index = model.layers.findIndex((l) => l.name === layerName);
  if (index < 0) throw new GradCamUnavailableError(`model ${model.name} has no layer named ${JSON.stringify(layerName)}${featureMapHint(model)}`);
  const target = model.layers[index] as tf.layers.Layer;
  if (!isFeatureMap(target) || target.getClassName() === 'InputLayer') {
    throw new GradCamUnavailableError(`layer ${JSON.stringify(layerName)} of model ${model.name} outputs shape ${JSON.stringify(target.outputShape)}, expected a 4-D feature map [batch, height, width, channels]${featureMapHint(model)}`);
  }
  if (target.inboundNodes.length !== 1) throw new GradCamUnavailableError(`layer ${JSON.stringify(layerName)} of model ${model.name} is used ${target.inboundNodes.length} times; Grad-CAM needs a layer applied once`);
  const targetOutput = target.output as tf.SymbolicTensor;
  const headInput = tf.input({ shape: targetOutput.shape.slice(1) as number[], name: `${layerName}_grad_cam_input` });
  const mapped = new Map<tf.SymbolicTensor, tf.SymbolicTensor>([[targetOutput, headInput]]);
  // Node lists grow as layers are re-applied below; only the model's own nodes are walked.
  const originalNodes = model.layers.map((l) => l.inboundNodes.slice());
  for (let i = index + 1; i < model.layers.length; i++) {
    const layer = model.layers[i] as tf.layers.Layer;
    for (const node of originalNodes[i] ?? []) {
      const ins = node.inputTensors;
      const found = ins.map((t) => mapped.get(t));
      if (found.every((t) => t === undefined)) continue;
      if (found.some((t) => t === undefined)) {
        throw new GradCamUnavailableError(`layer ${JSON.stringify(layer.name)} of model ${model.name} also reads a tensor that bypasses ${JSON.stringify(layerName)} (a skip connection); choose a layer after the merge for Grad-CAM`);
      }
      const args = found as tf.SymbolicTensor[];
      const out = layer.apply(args.length === 1 ? (args[0] as tf.SymbolicTensor) : args, node.callArgs) as tf.SymbolicTensor | tf.SymbolicTensor[];
      const outs = Array.isArray(out) ? out : [out];
      node.outputTensors.forEach((t, k) => {
        const o = outs[k];
        if (o !== undefined) mapped.set(t, o);
      });
    }
  }
  const modelOutput = model.outputs[0] as tf.SymbolicTensor;
  const headOutput = mapped.get(modelOutput);
  if (headOutput === undefined) throw new GradCamUnavailableError(`the output of model ${model.name} does not depend on layer ${JSON.stringify(layerName)}`);
  const head = tf.model({ inputs: headInput, outputs: headOutput, name: `${model.name}_after_${layerName}` });
  const features = tf.model({ inputs: model.inputs, outputs: targetOutput, name: `${model.name}_to_${layerName}` });
  return { layer: layerName, features, head };
}

export interface GradCamOptions {
  /** Class to explain per index; defaults to the predicted class. */
  classes?: number[];
  /** Defaults to defaultGradCamLayer(model). */
  layer?: string;
  /** Images per forward/backward pass. Defaults to 16. */
  batchSize?: number;
}

/**
 * Grad-CAM heatmaps of the images at `indices` of `data` for a model that outputs class logits.
 * The class score is the logit (before softmax), as in the paper. A heatmap that is zero
 * everywhere (no channel with positive weight is active) stays zero rather than being divided by 0.
 */
export function gradCam(model: tf.LayersModel, data: ImageBatchSource, indices: readonly number[], options: GradCamOptions = {}): GradCamResult {
  const inShape = model.inputs[0]?.shape.slice(1) as number[] | undefined;
  const numClasses = model.outputs[0]?.shape[1];
  if (inShape === undefined || typeof numClasses !== 'number') throw new Error(`model ${model.name} has no image input and class output`);
  validateSource(data, 'data', inShape);
  indices.forEach((index, i) => {
    if (!Number.isInteger(index) || index < 0 || index >= data.count) throw new RangeError(`indices[${i}] is ${index}, expected an image index in [0, ${data.count})`);
  });
  if (options.classes !== undefined) {
    if (options.classes.length !== indices.length) throw new RangeError(`classes has ${options.classes.length} entries, expected one per index (${indices.length})`);
    options.classes.forEach((c, i) => {
      if (!Number.isInteger(c) || c < 0 || c >= numClasses) throw new RangeError(`classes[${i}] is ${c}, expected a class index in [0, ${numClasses})`);
    });
  }
  const batchSize = options.batchSize ?? 16;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be an integer >= 1, got ${batchSize}`);

  const split = splitAtLayer(model, options.layer ?? defaultGradCamLayer(model));
  try {
    const mapShape = (split.features.outputs[0] as tf.SymbolicTensor).shape;
    const height = mapShape[1] as number;
    const width = mapShape[2] as number;
    const heatmaps = new Float32Array(indices.length * height * width);
    const classes: number[] = [];
    const probabilities: number[] = [];
    const batches = new BatchAssembler(data);
    const order = Int32Array.from(indices);
    for (let start = 0; start < indices.length; start += batchSize) {
      const count = Math.min(batchSize, indices.length - start);
      const [cams, chosen, probs] = tf.tidy(() => {
        const x = batches.images(start, count, order);
        const features = split.features.apply(x, { training: false }) as tf.Tensor4D;
        const logits = split.head.apply(features, { training: false }) as tf.Tensor2D;
        const target = options.classes === undefined ? tf.argMax(logits, 1).cast('int32') : tf.tensor1d(options.classes.slice(start, start + count), 'int32');
        const mask = tf.oneHot(target, numClasses).cast('float32');
        // Images are independent in inference mode, so the gradient of the summed scores holds each image's own gradient.
        const score = (a: tf.Tensor) => tf.sum(tf.mul(split.head.apply(a, { training: false }) as tf.Tensor2D, mask));
        const grads = tf.grad(score)(features);
        const weights = tf.mean(grads, [1, 2], true);
        const cam = tf.relu(tf.sum(tf.mul(features, weights), 3));
        const peak = tf.max(cam, [1, 2], true);
        const normalised = tf.where(tf.greater(peak, 0), tf.div(cam, tf.maximum(peak, 1e-30)), tf.zerosLike(cam));
        const p = tf.sum(tf.mul(tf.softmax(logits), mask), 1);
        return [normalised, target, p] as const;
      });
      try {
        heatmaps.set(cams.dataSync(), start * height * width);
        classes.push(...Array.from(chosen.dataSync()));
        probabilities.push(...Array.from(probs.dataSync()));
      } finally {
        tf.dispose([cams, chosen, probs]);
      }
    }
    return { layer: split.layer, height, width, heatmaps, classes, probabilities };
  } finally {
    split.head.dispose();
  }
}
