/**
 * MobileNetV3-Small and -Large (Howard et al. 2019), layer for layer as torchvision's
 * mobilenet_v3_small / mobilenet_v3_large: inverted residual blocks with optional
 * squeeze-and-excitation (squeeze = make_divisible(expanded / 4), hard-sigmoid gate),
 * ReLU or hard-swish, a 1x1 conv to 6x the last block's width, global average pooling and a
 * hidden FC layer (1024 / 1280, hard-swish) before dropout and the logits. Outputs logits.
 * Padding is tfjs 'same' (asymmetric on stride 2 with even sides, unlike torchvision's
 * symmetric padding); the parameter count is unaffected.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelSpec } from '../engine.js';
import {
  type Act, SeedSequence, activation, apply, classifier, convBn, denseInit, depthwiseBn, makeDivisible, requireMinSide, squeezeExcite,
} from './blocks.js';

/** Total stride of the network: inputs smaller than this collapse to 1x1 before the last stages. */
export const MOBILENET_V3_MIN_SIDE = 32;

/** [input, kernel, expanded, output, squeeze-excite, activation, stride] per block. */
type BlockConfig = [number, number, number, number, boolean, 'relu' | 'hard-swish', number];

const SMALL: BlockConfig[] = [
  [16, 3, 16, 16, true, 'relu', 2],
  [16, 3, 72, 24, false, 'relu', 2],
  [24, 3, 88, 24, false, 'relu', 1],
  [24, 5, 96, 40, true, 'hard-swish', 2],
  [40, 5, 240, 40, true, 'hard-swish', 1],
  [40, 5, 240, 40, true, 'hard-swish', 1],
  [40, 5, 120, 48, true, 'hard-swish', 1],
  [48, 5, 144, 48, true, 'hard-swish', 1],
  [48, 5, 288, 96, true, 'hard-swish', 2],
  [96, 5, 576, 96, true, 'hard-swish', 1],
  [96, 5, 576, 96, true, 'hard-swish', 1],
];

const LARGE: BlockConfig[] = [
  [16, 3, 16, 16, false, 'relu', 1],
  [16, 3, 64, 24, false, 'relu', 2],
  [24, 3, 72, 24, false, 'relu', 1],
  [24, 5, 72, 40, true, 'relu', 2],
  [40, 5, 120, 40, true, 'relu', 1],
  [40, 5, 120, 40, true, 'relu', 1],
  [40, 3, 240, 80, false, 'hard-swish', 2],
  [80, 3, 200, 80, false, 'hard-swish', 1],
  [80, 3, 184, 80, false, 'hard-swish', 1],
  [80, 3, 184, 80, false, 'hard-swish', 1],
  [80, 3, 480, 112, true, 'hard-swish', 1],
  [112, 3, 672, 112, true, 'hard-swish', 1],
  [112, 5, 672, 160, true, 'hard-swish', 2],
  [160, 5, 960, 160, true, 'hard-swish', 1],
  [160, 5, 960, 160, true, 'hard-swish', 1],
];

const BN = { epsilon: 1e-3, momentum: 0.99 };

export function buildMobileNetV3(spec: ModelSpec, seed: number, variant: 'small' | 'large'): tf.LayersModel {
  requireMinSide(spec, MOBILENET_V3_MIN_SIDE);
  const m = spec.widthMultiplier ?? 1;
  const ch = (c: number) => makeDivisible(c * m);
  const seeds = new SeedSequence(seed);
  const blocks = variant === 'small' ? SMALL : LARGE;

  const input = tf.input({ shape: spec.inputShape, name: 'image' });
  let x = convBn(input, { filters: ch(16), kernel: 3, stride: 2, act: 'hard-swish', name: 'stem', seeds, ...BN, input: true });
  blocks.forEach(([inC, kernel, expC, outC, se, act, stride], i) => {
    const name = `block${i + 1}`;
    const [inputC, expanded, output] = [ch(inC), ch(expC), ch(outC)];
    let y = x;
    if (expanded !== inputC) y = convBn(y, { filters: expanded, kernel: 1, act, name: `${name}_expand`, seeds, ...BN });
    y = depthwiseBn(y, { kernel, stride, act, name: `${name}_depthwise`, seeds, ...BN });
    if (se) y = squeezeExcite(y, expanded, makeDivisible(Math.floor(expanded / 4)), 'relu', 'hard-sigmoid', `${name}_se`, seeds);
    y = convBn(y, { filters: output, kernel: 1, act: 'linear', name: `${name}_project`, seeds, ...BN });
    if (stride === 1 && inputC === output) y = apply(tf.layers.add({ name: `${name}_add` }), [x, y]);
    x = y;
  });
  const lastBlock = blocks[blocks.length - 1]!;
  x = convBn(x, { filters: 6 * ch(lastBlock[3]), kernel: 1, act: 'hard-swish', name: 'head', seeds, ...BN });
  x = apply(tf.layers.globalAveragePooling2d({ name: 'pool' }), x);
  const hidden = ch(variant === 'small' ? 1024 : 1280);
  x = apply(tf.layers.dense({ units: hidden, kernelInitializer: denseInit(seeds), name: 'classifier_hidden' }), x);
  x = activation(x, 'hard-swish' satisfies Act, 'classifier_hidden_act');
  const logits = classifier(x, spec, 0.2, seeds);
  return tf.model({ inputs: input, outputs: logits, name: `mobilenet_v3_${variant}` });
}
