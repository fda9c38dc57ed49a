/**
 * Transfer learning: any tfjs layers model (model.json + weight shards, from a path, a file://
 * URI or whatever URI the caller's reader understands) as a frozen backbone cut at a named
 * layer, with a new head; and progressive unfreezing of backbone layers on an epoch schedule.
 *
 * The transfer model is `tf.model({inputs: backbone.inputs, outputs: head(cutLayer.output)})`.
 * Its head layers are named with HEAD_PREFIX; every other layer is backbone. The head is global
 * average pooling (4-D features) or flatten (3-D), seeded dropout when ModelSpec.dropout > 0, and
 * a dense layer of logits. The whole model round-trips through model-bytes.ts like any other, so
 * checkpoints and resumes need nothing but the bytes.
 *
 * Freezing is `layer.trainable = false`. A frozen BatchNormalization layer also runs in
 * inference mode (moving statistics, no updates to them), as in Keras, so frozen weights stay
 * bit-for-bit unchanged while the head trains.
 *
 * Unfreezing (TrainSpec.unfreeze) splits trainable variables into groups: group 0 is the head,
 * group k the backbone layers that step k (in afterEpochs order) unfreezes first. Each group has
 * its own optimizer, stepped at `learningRateScale` times the scheduled rate once active. Why not
 * scale gradients: Adam's step m/sqrt(v) is invariant to gradient scale, so scaled gradients
 * would not lower the step size at all; with separate optimizers the scale applies to the step
 * itself (for SGD too), and Adam's bias correction starts when the group unfreezes rather than
 * from the run's global step count (a shared optimizer would give newly unfrozen layers several
 * times the intended step for hundreds of steps). Which layers train at epoch e, and at what
 * rate, is a function of (spec, e) only; the group optimizers' states are saved together, so a
 * run resumed across an unfreeze boundary repeats the uninterrupted one exactly.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve as resolvePath, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInNewContext } from 'node:vm';
import { mkdir, writeFile } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import type { BackboneSpec, ModelSpec, UnfreezeStep } from './engine.js';
import { decodeFramed, encodeFramed } from './framed-bytes.js';
import { type OptimizerSettings, createOptimizer, optimizerToBytes, restoreOptimizer } from './optimizer-bytes.js';
import { skipInputGradients } from './layers/input-conv.js';
import { registerArchitectureLayers } from './layers/register-layers.js';
import { SeededDropout } from './seeded-dropout.js';
import { deriveSeed } from './seeded-random.js';

/** Names of the head's layers start with this; every other layer of a transfer model is backbone. */
export const HEAD_PREFIX = 'dv_head_';

/** Reads a file by local path or file:// URI. */
export async function readLocalFile(uri: string): Promise<Uint8Array> {
  const path = uri.startsWith('file://') ? fileURLToPath(uri) : uri;
  const bytes = await readFile(path);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** `relative` (a weight shard's path in a manifest) resolved against the model.json's URI. */
export function resolveSibling(modelJsonUri: string, relative: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(relative)) return relative;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(modelJsonUri)) {
    const slash = modelJsonUri.lastIndexOf('/');
    return `${modelJsonUri.slice(0, slash + 1)}${relative.replace(/^\.\//, '')}`;
  }
  return join(dirname(modelJsonUri), relative);
}

interface ModelJson {
  modelTopology?: unknown;
  weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  format?: string;
  generatedBy?: string;
  convertedBy?: string | null;
}

/** The artifacts (topology, weight specs, weight data) of a tfjs layers model stored as model.json + shards. */
export async function loadModelArtifacts(uri: string, read: (uri: string) => Promise<Uint8Array> = readLocalFile): Promise<tf.io.ModelArtifacts> {
  const json = JSON.parse(new TextDecoder().decode(await read(uri))) as ModelJson;
  if (json.modelTopology === undefined) throw new Error(`${uri}: not a tfjs layers model.json (no modelTopology)`);
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  const shards: ArrayBuffer[] = [];
  for (const group of json.weightsManifest ?? []) {
    weightSpecs.push(...group.weights);
    for (const path of group.paths) {
      const bytes = await read(resolveSibling(uri, path));
      shards.push(bytes.slice().buffer);
    }
  }
  return {
    modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
    weightSpecs,
    weightData: tf.io.concatenateArrayBuffers(shards),
    ...(json.format !== undefined ? { format: json.format } : {}),
  };
}

/** Writes `artifacts` as model.json + one weight shard into `dir`; returns the model.json path. */
export async function writeModelFiles(artifacts: tf.io.ModelArtifacts, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const shard = 'group1-shard1of1.bin';
  const data = artifacts.weightData === undefined ? new ArrayBuffer(0) : tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  await writeFile(join(dir, shard), new Uint8Array(data));
  const json: ModelJson = {
    format: 'layers-model',
    generatedBy: 'durable-vision',
    convertedBy: null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [`./${shard}`], weights: artifacts.weightSpecs ?? [] }],
  };
  const path = join(dir, 'model.json');
  await writeFile(path, JSON.stringify(json));
  return path;
}

/** A tf.LayersModel's artifacts, as `model.save` hands them over. */
export async function modelArtifacts(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler((artifacts) => {
    captured = artifacts;
    return Promise.resolve({ modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } });
  }));
  if (captured === undefined) throw new Error(`model ${model.name} saved nothing`);
  return captured;
}

interface KerasLayerJson {
  name?: string;
  class_name: string;
  config: { name?: string; batch_input_shape?: (number | null)[]; [key: string]: unknown };
  inbound_nodes?: unknown[];
}

function layerName(layer: KerasLayerJson): string {
  return layer.name ?? layer.config.name ?? '';
}

/** Layer names in the inbound nodes of a Keras layer JSON ([[[name, node, tensor, kwargs], ...], ...]). */
function inboundNames(layer: KerasLayerJson): string[] {
  const names: string[] = [];
  for (const node of layer.inbound_nodes ?? []) {
    if (!Array.isArray(node)) continue;
    for (const edge of node) if (Array.isArray(edge) && typeof edge[0] === 'string') names.push(edge[0]);
  }
  return names;
}

/**
 * A copy of `artifacts` whose topology ends at layer `cutLayer`: only that layer and its
 * ancestors remain, and it becomes the model's output. Weights of dropped layers stay in the
 * specs (load with strict: false and check the kept ones, as loadLayersModelFromFiles does).
 */
export function cutTopology(artifacts: tf.io.ModelArtifacts, cutLayer: string): tf.io.ModelArtifacts {
  const topology = JSON.parse(JSON.stringify(artifacts.modelTopology)) as unknown;
  const t = topology as { model_config?: { config?: { layers?: KerasLayerJson[]; output_layers?: unknown } }; config?: { layers?: KerasLayerJson[]; output_layers?: unknown } };
  const config = t.model_config?.config ?? t.config;
  const layers = config?.layers;
  if (config === undefined || layers === undefined) throw new Error('backbone topology has no layer list (only functional layers models can be cut)');
  const byName = new Map(layers.map((l) => [layerName(l), l]));
  if (!byName.has(cutLayer)) {
    throw new Error(`backbone has no layer ${JSON.stringify(cutLayer)}; its last layers are ${layers.slice(-8).map(layerName).join(', ')}`);
  }
  const keep = new Set<string>();
  const pending = [cutLayer];
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (keep.has(name)) continue;
    keep.add(name);
    const layer = byName.get(name);
    if (layer !== undefined) pending.push(...inboundNames(layer));
  }
  config.layers = layers.filter((l) => keep.has(layerName(l)));
  config.output_layers = [[cutLayer, 0, 0]];
  return { ...artifacts, modelTopology: topology as tf.io.ModelArtifacts['modelTopology'] };
}

/** The layer list of a Keras/tfjs topology (functional model), if it has one. */
function topologyLayers(topology: unknown): KerasLayerJson[] | undefined {
  const t = topology as { model_config?: { config?: { layers?: KerasLayerJson[] } }; config?: { layers?: KerasLayerJson[] } };
  return t.model_config?.config?.layers ?? t.config?.layers;
}

/** A copy of `artifacts` whose input layers take `[height, width, channels]` images. */
export function withInputShape(artifacts: tf.io.ModelArtifacts, shape: readonly [number, number, number]): tf.io.ModelArtifacts {
  const topology = JSON.parse(JSON.stringify(artifacts.modelTopology)) as unknown;
  const layers = topologyLayers(topology);
  if (layers === undefined) throw new Error('backbone topology has no layer list (only functional layers models can change input shape)');
  let found = 0;
  for (const layer of layers) {
    if (layer.class_name === 'InputLayer' && layer.config.batch_input_shape !== undefined) {
      layer.config.batch_input_shape = [null, ...shape];
      found++;
    }
  }
  if (found === 0) throw new Error('backbone topology has no InputLayer with a batch_input_shape');
  return { ...artifacts, modelTopology: topology as tf.io.ModelArtifacts['modelTopology'] };
}

export interface LoadBackboneOptions {
  read?: (uri: string) => Promise<Uint8Array>;
  /** Rebuild the model for this input shape. */
  inputShape?: readonly [number, number, number];
  /** Defaults to true: every weight of the (cut) model must be stored; false leaves missing ones freshly initialised. */
  strict?: boolean;
  /** Ignore the stored weights; initialise from the topology's initializers (for from-scratch baselines). */
  randomInit?: boolean;
  /** Keep only this layer and its ancestors; it becomes the output (see cutTopology). */
  cutLayer?: string;
}

/** Loads a tfjs layers model from model.json + shards (no tfjs-node needed). */
export async function loadLayersModelFromFiles(uri: string, options: LoadBackboneOptions = {}): Promise<tf.LayersModel> {
  let artifacts = await loadModelArtifacts(uri, options.read);
  const current = topologyLayers(artifacts.modelTopology)?.find((l) => l.class_name === 'InputLayer')?.config.batch_input_shape;
  if (options.inputShape !== undefined && current?.slice(1).join(',') !== options.inputShape.join(',')) {
    artifacts = withInputShape(artifacts, options.inputShape);
  }
  if (options.cutLayer !== undefined) artifacts = cutTopology(artifacts, options.cutLayer);
  registerArchitectureLayers();
  if (options.randomInit === true) {
    return tf.models.modelFromJSON({ modelTopology: artifacts.modelTopology as tf.io.ModelArtifacts['modelTopology'] } as never) as Promise<tf.LayersModel>;
  }
  // strict: false lets the weights of layers cut away go unused; missing weights are checked here.
  const model = await tf.loadLayersModel(tf.io.fromMemory(artifacts), { strict: false });
  if (options.strict ?? true) {
    const stored = new Set((artifacts.weightSpecs ?? []).map((w) => w.name));
    const missing = model.weights.map((w) => w.originalName).filter((n) => !stored.has(n));
    if (missing.length > 0) {
      model.dispose();
      throw new Error(`${uri}: no stored weights for ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`);
    }
  }
  return model;
}

export function isHeadLayer(layer: tf.layers.Layer): boolean {
  return layer.name.startsWith(HEAD_PREFIX);
}

/** A transfer model's backbone layers in topological order, input layers excluded. */
export function backboneLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return model.layers.filter((l) => !isHeadLayer(l) && l.getClassName() !== 'InputLayer');
}

export function validateBackbone(backbone: BackboneSpec, what = 'model.backbone'): void {
  if (typeof backbone.uri !== 'string' || backbone.uri.length === 0) throw new Error(`${what}.uri must be a non-empty string`);
  if (typeof backbone.cutLayer !== 'string' || backbone.cutLayer.length === 0) throw new Error(`${what}.cutLayer must be a non-empty string`);
}

export function validateModelSpecWithBackbone(spec: ModelSpec): void {
  if (spec.backbone === undefined) throw new Error('model.backbone is not set');
  validateBackbone(spec.backbone);
  const [h, w, c] = spec.inputShape;
  for (const [name, v] of [['height', h], ['width', w], ['channels', c]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`model.inputShape ${name} must be an integer >= 1, got ${v}`);
  }
  if (!Number.isInteger(spec.numClasses) || spec.numClasses < 2) throw new Error(`model.numClasses must be an integer >= 2, got ${spec.numClasses}`);
  if (spec.dropout !== undefined && !(spec.dropout >= 0 && spec.dropout < 1)) throw new Error(`model.dropout must be in [0, 1), got ${spec.dropout}`);
}

export function validateUnfreeze(steps: readonly UnfreezeStep[], epochs: number): void {
  steps.forEach((s, i) => {
    const what = `spec.unfreeze[${i}]`;
    if (!Number.isInteger(s.afterEpochs) || s.afterEpochs < 0) throw new Error(`${what}.afterEpochs must be an integer >= 0, got ${s.afterEpochs}`);
    if (s.afterEpochs >= epochs) throw new Error(`${what}.afterEpochs is ${s.afterEpochs}, so it would never apply in a run of ${epochs} epochs`);
    const l = s.layers;
    const ok = l === 'all' || (typeof l === 'number' && Number.isInteger(l) && l >= 1)
      || (typeof l === 'object' && l !== null && typeof l.fromLayer === 'string' && l.fromLayer.length > 0);
    if (!ok) throw new Error(`${what}.layers must be 'all', an integer >= 1 or { fromLayer: <layer name> }, got ${JSON.stringify(l)}`);
    const scale = s.learningRateScale;
    if (scale !== undefined && !(scale > 0 && scale <= 1)) throw new Error(`${what}.learningRateScale must be in (0, 1], got ${scale}`);
  });
}

/**
 * The transfer model for `spec`: the backbone cut at `spec.backbone.cutLayer`, frozen, plus a
 * new head initialised from `seed`. Backbone layers past the cut are disposed.
 */
export async function buildTransferModel(spec: ModelSpec, seed: number, options: { read?: (uri: string) => Promise<Uint8Array>; randomInit?: boolean } = {}): Promise<tf.LayersModel> {
  validateModelSpecWithBackbone(spec);
  const backbone = spec.backbone!;
  const base = await loadLayersModelFromFiles(backbone.uri, {
    inputShape: spec.inputShape, strict: backbone.strict, read: options.read, randomInit: options.randomInit, cutLayer: backbone.cutLayer,
  });
  let kept = false;
  try {
    const cut = base.layers.find((l) => l.name === backbone.cutLayer);
    if (cut === undefined) {
      const names = base.layers.map((l) => l.name);
      throw new Error(`backbone ${backbone.uri} has no layer ${JSON.stringify(backbone.cutLayer)}; its last layers are ${names.slice(-8).join(', ')}`);
    }
    const features = cut.output;
    if (Array.isArray(features)) throw new Error(`backbone layer ${backbone.cutLayer} has several outputs; cut at a layer with one`);
    let x = features;
    if (x.rank === 4) x = tf.layers.globalAveragePooling2d({ name: `${HEAD_PREFIX}pool` }).apply(x) as tf.SymbolicTensor;
    else if (x.rank !== 2) x = tf.layers.flatten({ name: `${HEAD_PREFIX}flatten` }).apply(x) as tf.SymbolicTensor;
    const dropout = spec.dropout ?? 0;
    if (dropout > 0) x = new SeededDropout({ rate: dropout, seed: deriveSeed(seed, 2), name: `${HEAD_PREFIX}dropout` }).apply(x) as tf.SymbolicTensor;
    const logits = tf.layers.dense({
      units: spec.numClasses,
      kernelInitializer: tf.initializers.glorotUniform({ seed: deriveSeed(seed, 1) }),
      name: `${HEAD_PREFIX}logits`,
    }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: base.inputs, outputs: logits, name: 'transfer' });
    for (const layer of backboneLayers(model)) layer.trainable = false;
    skipInputGradients(model);
    const used = new Set(model.layers);
    for (const layer of base.layers) if (!used.has(layer)) layer.dispose();
    kept = true;
    return model;
  } finally {
    if (!kept) base.dispose();
  }
}

/** Makes frozen BatchNormalization layers of `model` run in inference mode (Keras semantics). Idempotent. */
export function freezeBatchNormStatistics(model: tf.LayersModel): void {
  for (const layer of model.layers) {
    if (layer.getClassName() !== 'BatchNormalization') continue;
    const patched = layer as tf.layers.Layer & { dvFrozenBn?: true };
    if (patched.dvFrozenBn === true) continue;
    const original = layer.call.bind(layer);
    layer.call = (inputs, kwargs) => original(inputs, layer.trainable ? kwargs : { ...kwargs, training: false });
    patched.dvFrozenBn = true;
  }
}

/** One set of layers that starts training at `fromEpoch` with its own optimizer. */
export interface TrainableGroup {
  layers: tf.layers.Layer[];
  /** 1-based epoch from which the group trains. */
  fromEpoch: number;
  learningRateScale: number;
}

/**
 * Group 0: the head (or, for a model without HEAD_PREFIX layers, every layer), from epoch 1 at
 * scale 1. Group k: the layers unfreeze step k (steps ordered by afterEpochs, ties in the given
 * order) unfreezes that no earlier step did. A pure function of the model's layer list and the steps.
 */
export function planUnfreezing(model: tf.LayersModel, steps: readonly UnfreezeStep[] = []): TrainableGroup[] {
  const hasHead = model.layers.some(isHeadLayer);
  if (!hasHead) {
    if (steps.length > 0) throw new Error('spec.unfreeze needs a model with a backbone (model.backbone)');
    return [{ layers: model.layers, fromEpoch: 1, learningRateScale: 1 }];
  }
  const backbone = backboneLayers(model);
  const groups: TrainableGroup[] = [{ layers: model.layers.filter(isHeadLayer), fromEpoch: 1, learningRateScale: 1 }];
  const assigned = new Set<tf.layers.Layer>();
  const ordered = steps.map((s, i) => ({ s, i })).sort((a, b) => a.s.afterEpochs - b.s.afterEpochs || a.i - b.i);
  for (const { s, i } of ordered) {
    let chosen: tf.layers.Layer[];
    if (s.layers === 'all') chosen = backbone;
    else if (typeof s.layers === 'number') chosen = backbone.filter((l) => l.weights.length > 0).slice(-s.layers);
    else {
      const name = s.layers.fromLayer;
      const at = backbone.findIndex((l) => l.name === name);
      if (at < 0) throw new Error(`spec.unfreeze[${i}].layers.fromLayer: the backbone has no layer ${JSON.stringify(name)} (below the cut)`);
      chosen = backbone.slice(at);
    }
    const fresh = chosen.filter((l) => !assigned.has(l));
    for (const l of fresh) assigned.add(l);
    groups.push({ layers: fresh, fromEpoch: s.afterEpochs + 1, learningRateScale: s.learningRateScale ?? 1 });
  }
  return groups;
}

/** Sets every layer's `trainable` for `epoch` (1-based): a layer trains iff its group has started. */
export function applyTrainable(model: tf.LayersModel, groups: readonly TrainableGroup[], epoch: number): void {
  const inGroup = new Map<tf.layers.Layer, TrainableGroup>();
  for (const g of groups) for (const l of g.layers) inGroup.set(l, g);
  for (const layer of model.layers) {
    if (layer.getClassName() === 'InputLayer') continue;
    const g = inGroup.get(layer);
    const trainable = g !== undefined && epoch >= g.fromEpoch;
    if (layer.trainable !== trainable) layer.trainable = trainable;
  }
}

/** The trainable variables of `group`'s layers, in layer order (call after applyTrainable). */
export function groupWeights(group: TrainableGroup): tf.LayerVariable[] {
  return group.layers.flatMap((l) => l.trainableWeights);
}

const GROUPS_MAGIC = 'DVG1';

interface GroupsHeader {
  format: 'durable-vision/optimizer-groups';
  version: 1;
  /** Byte length of each group's optimizer state ('DVO1'), in group order. */
  lengths: number[];
}

/** One optimizer per group, their states as one buffer ('DVG1'), in group order. */
export async function groupOptimizersToBytes(optimizers: readonly tf.Optimizer[], settings: OptimizerSettings): Promise<Uint8Array> {
  const parts = await Promise.all(optimizers.map((o) => optimizerToBytes(o, settings)));
  const payload = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    payload.set(p, offset);
    offset += p.length;
  }
  const header: GroupsHeader = { format: 'durable-vision/optimizer-groups', version: 1, lengths: parts.map((p) => p.length) };
  return encodeFramed(GROUPS_MAGIC, header, payload);
}

/** Fresh optimizers for `count` groups, or the ones saved in `bytes`. */
export async function restoreGroupOptimizers(bytes: Uint8Array | undefined, count: number, settings: OptimizerSettings): Promise<tf.Optimizer[]> {
  if (bytes === undefined) return Array.from({ length: count }, () => createOptimizer(settings));
  const { header, payload } = decodeFramed<GroupsHeader>(GROUPS_MAGIC, bytes, 'checkpoint optimizer groups (a run with spec.unfreeze resumes only from its own checkpoints)');
  if (header.format !== 'durable-vision/optimizer-groups' || header.version !== 1) {
    throw new Error(`optimizer groups: expected format durable-vision/optimizer-groups v1, got ${header.format} v${header.version}`);
  }
  if (header.lengths.length !== count) {
    throw new Error(`checkpoint holds optimizer state for ${header.lengths.length} parameter groups, but spec.unfreeze makes ${count}; resume with the same unfreeze steps`);
  }
  const all = new Uint8Array(payload);
  const optimizers: tf.Optimizer[] = [];
  let offset = 0;
  try {
    for (const length of header.lengths) {
      optimizers.push(await restoreOptimizer(all.slice(offset, offset + length), settings));
      offset += length;
    }
  } catch (error) {
    for (const o of optimizers) o.dispose();
    throw error;
  }
  return optimizers;
}

/** Folder of nsfwjs@4.3.0's MobileNetV2 files (browserified JS bundles of model.json and the weight shard). */
export function nsfwjsMobileNetV2Dir(): string {
  // The package exports no package.json; resolve its entry point (resolving runs none of it).
  const entry = createRequire(import.meta.url).resolve('nsfwjs');
  const at = entry.lastIndexOf(`${sep}nsfwjs${sep}`);
  if (at < 0) throw new Error(`cannot place the nsfwjs package from ${entry}`);
  return join(entry.slice(0, at + sep.length + 'nsfwjs'.length), 'dist', 'models', 'mobilenet_v2');
}

/** Evaluates a browserify data bundle (`module.exports = <literal>`) in an empty sandbox, without Node's require. */
function bundleExports(source: string, file: string): unknown {
  const module = { exports: {} as unknown };
  runInNewContext(source, { module, exports: module.exports }, { filename: file, timeout: 10_000 });
  if (module.exports === null || (typeof module.exports === 'object' && Object.keys(module.exports).length === 0)) {
    throw new Error(`${file}: the bundle exported nothing`);
  }
  return module.exports;
}

/**
 * nsfwjs's MobileNetV2 (2.6 M parameters, 224x224x3 inputs scaled to [0, 1]; ImageNet weights
 * fine-tuned by nsfwjs for 5 content classes: drawing, hentai, neutral, porn, sexy) as
 * ModelArtifacts. The package ships model.json and the weight shard wrapped in browserify
 * bundles; this evaluates only those data bundles, in a sandbox, and never imports nsfwjs's own
 * code (which would pull in tfjs by itself). The weights are uint8-quantized; tfjs dequantizes
 * them on load.
 */
export async function nsfwjsMobileNetV2Artifacts(dir: string = nsfwjsMobileNetV2Dir()): Promise<tf.io.ModelArtifacts> {
  const modelFile = join(dir, 'model.min.js');
  const json = bundleExports(await readFile(modelFile, 'utf8'), modelFile) as ModelJson;
  const shards: ArrayBuffer[] = [];
  const weightSpecs: tf.io.WeightsManifestEntry[] = [];
  for (const group of json.weightsManifest ?? []) {
    weightSpecs.push(...group.weights);
    for (const path of group.paths) {
      const file = resolvePath(dir, `${path.replace(/\.bin$/, '')}.min.js`);
      const base64 = bundleExports(await readFile(file, 'utf8'), file);
      if (typeof base64 !== 'string') throw new Error(`${file}: expected a base64 string`);
      const bytes = Buffer.from(base64, 'base64');
      shards.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    }
  }
  if (json.modelTopology === undefined) throw new Error(`${modelFile}: no modelTopology`);
  return { modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'], weightSpecs, weightData: tf.io.concatenateArrayBuffers(shards) };
}
