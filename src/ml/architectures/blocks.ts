/**
 * Building blocks shared by the architecture builders: seeded initialisers, conv + batch norm +
 * activation, squeeze-and-excitation, torchvision's channel rounding and the classifier head.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelSpec } from '../engine.js';
import { type ActivationKind, PointwiseActivation } from '../layers/activation.js';
import { batchNormalization } from '../layers/batch-norm.js';
import { ChannelScale } from '../layers/channel-scale.js';
import { inputConv2d } from '../layers/input-conv.js';
import { SeededDropout } from '../seeded-dropout.js';
import { deriveSeed } from '../seeded-random.js';

export type Sym = tf.SymbolicTensor;
export type Init = ReturnType<typeof tf.initializers.glorotUniform>;
export type Act = 'relu' | 'sigmoid' | 'linear' | ActivationKind;

/** Hands out one seed per initialiser in build order, so the same (spec, seed) gives the same weights. */
export class SeedSequence {
  private next = 0;

  constructor(readonly seed: number) {}

  take(): number {
    this.next += 1;
    return deriveSeed(this.seed, this.next);
  }
}

export function apply(layer: tf.layers.Layer, x: Sym | Sym[]): Sym {
  return layer.apply(x) as Sym;
}

/** torchvision's _make_divisible: round to a multiple of `divisor`, never more than 10% below `v`. */
export function makeDivisible(v: number, divisor = 8): number {
  const rounded = Math.max(divisor, Math.floor((v + divisor / 2) / divisor) * divisor);
  return rounded < 0.9 * v ? rounded + divisor : rounded;
}

/** Conv kernels: He normal on fan-out, as torchvision's kaiming_normal_(mode='fan_out'). */
export function convInit(seeds: SeedSequence): Init {
  return tf.initializers.varianceScaling({ scale: 2, mode: 'fanOut', distribution: 'normal', seed: seeds.take() });
}

export function denseInit(seeds: SeedSequence): Init {
  return tf.initializers.glorotUniform({ seed: seeds.take() });
}

export function activation(x: Sym, act: Act, name: string): Sym {
  if (act === 'linear') return x;
  if (act === 'relu' || act === 'sigmoid') return apply(tf.layers.activation({ activation: act, name }), x);
  return apply(new PointwiseActivation({ kind: act, name }), x);
}

export interface ConvBnOptions {
  filters: number;
  kernel: number;
  stride?: number;
  act: Act;
  name: string;
  seeds: SeedSequence;
  /** Batch-norm epsilon (torchvision: 1e-5 ResNet, 1e-3 MobileNetV3/EfficientNet). */
  epsilon: number;
  /** Keras-style moving-average momentum (1 - torch momentum). */
  momentum: number;
  /** The model's first layer: its training step computes no gradient for the image (`inputConv2d`). */
  input?: boolean;
}

/** Bias-free 'same' convolution, batch norm, activation. */
export function convBn(x: Sym, o: ConvBnOptions): Sym {
  const args = {
    filters: o.filters, kernelSize: o.kernel, strides: o.stride ?? 1, padding: 'same' as const, useBias: false,
    kernelInitializer: convInit(o.seeds), name: `${o.name}_conv`,
  };
  const y = apply(o.input === true ? inputConv2d(args) : tf.layers.conv2d(args), x);
  return activation(apply(batchNormalization({ epsilon: o.epsilon, momentum: o.momentum, name: `${o.name}_bn` }), y), o.act, `${o.name}_act`);
}

/** Bias-free 'same' depthwise convolution, batch norm, activation. */
export function depthwiseBn(x: Sym, o: Omit<ConvBnOptions, 'filters'>): Sym {
  const y = apply(tf.layers.depthwiseConv2d({
    kernelSize: o.kernel, strides: o.stride ?? 1, padding: 'same', useBias: false, depthMultiplier: 1,
    depthwiseInitializer: convInit(o.seeds), name: `${o.name}_dwconv`,
  }), x);
  return activation(apply(batchNormalization({ epsilon: o.epsilon, momentum: o.momentum, name: `${o.name}_bn` }), y), o.act, `${o.name}_act`);
}

/** Squeeze-and-excitation: global average, FC (with bias) to `squeeze`, inner act, FC back, gate, scale. */
export function squeezeExcite(x: Sym, channels: number, squeeze: number, inner: Act, gate: Act, name: string, seeds: SeedSequence): Sym {
  let s = apply(tf.layers.globalAveragePooling2d({ name: `${name}_pool` }), x);
  s = activation(apply(tf.layers.dense({ units: squeeze, kernelInitializer: denseInit(seeds), name: `${name}_reduce` }), s), inner, `${name}_reduce_act`);
  s = activation(apply(tf.layers.dense({ units: channels, kernelInitializer: denseInit(seeds), name: `${name}_expand` }), s), gate, `${name}_gate`);
  return apply(new ChannelScale({ name: `${name}_scale` }), [x, s]);
}

/** Dropout (seeded, skipped at rate 0) and the logits layer. */
export function classifier(x: Sym, spec: ModelSpec, defaultDropout: number, seeds: SeedSequence, init?: Init): Sym {
  const rate = spec.dropout ?? defaultDropout;
  let y = x;
  const dropoutSeed = seeds.take();
  if (rate > 0) y = apply(new SeededDropout({ rate, seed: dropoutSeed, name: 'dropout' }), y);
  return apply(tf.layers.dense({ units: spec.numClasses, kernelInitializer: init ?? denseInit(seeds), name: 'logits' }), y);
}

/** Throws unless both input sides are at least `min` (the network's total downsampling). */
export function requireMinSide(spec: ModelSpec, min: number): void {
  const [h, w] = spec.inputShape;
  if (h < min || w < min) {
    throw new Error(`model.inputShape for ${spec.architecture} needs height and width >= ${min} (it downsamples ${min}x), got [${spec.inputShape.join(', ')}]`);
  }
}
