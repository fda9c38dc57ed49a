/**
 * EfficientNet-B0 (Tan & Le 2019) as torchvision's efficientnet_b0: 3x3/2 stem (32, swish),
 * seven stages of MBConv blocks (expand 1x1, depthwise kxk, squeeze-and-excitation with
 * squeeze = max(1, block input / 4), swish inside and a sigmoid gate, linear 1x1 projection,
 * identity shortcut when the shape is kept), a 1x1 conv to 1280 (swish), global average
 * pooling, dropout 0.2 and the logits. widthMultiplier scales channels (rounded to multiples
 * of 8); depth is B0's. Stochastic depth is not applied.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelSpec } from '../engine.js';
import {
  SeedSequence, apply, classifier, convBn, depthwiseBn, makeDivisible, requireMinSide, squeezeExcite,
} from './blocks.js';

export const EFFICIENTNET_MIN_SIDE = 32;

/** [expand ratio, kernel, stride, input, output, repeats] per stage. */
const STAGES: [number, number, number, number, number, number][] = [
  [1, 3, 1, 32, 16, 1],
  [6, 3, 2, 16, 24, 2],
  [6, 5, 2, 24, 40, 2],
  [6, 3, 2, 40, 80, 3],
  [6, 5, 1, 80, 112, 3],
  [6, 5, 2, 112, 192, 4],
  [6, 3, 1, 192, 320, 1],
];

const BN = { epsilon: 1e-3, momentum: 0.99 };

export function buildEfficientNetB0(spec: ModelSpec, seed: number): tf.LayersModel {
  requireMinSide(spec, EFFICIENTNET_MIN_SIDE);
  const m = spec.widthMultiplier ?? 1;
  const ch = (c: number) => makeDivisible(c * m);
  const seeds = new SeedSequence(seed);

  const input = tf.input({ shape: spec.inputShape, name: 'image' });
  let x = convBn(input, { filters: ch(32), kernel: 3, stride: 2, act: 'swish', name: 'stem', seeds, ...BN, input: true });
  let block = 0;
  for (const [expand, kernel, firstStride, inC, outC, repeats] of STAGES) {
    for (let r = 0; r < repeats; r++) {
      block += 1;
      const name = `block${block}`;
      const inputC = ch(r === 0 ? inC : outC);
      const output = ch(outC);
      const stride = r === 0 ? firstStride : 1;
      const expanded = makeDivisible(inputC * expand);
      let y = x;
      if (expanded !== inputC) y = convBn(y, { filters: expanded, kernel: 1, act: 'swish', name: `${name}_expand`, seeds, ...BN });
      y = depthwiseBn(y, { kernel, stride, act: 'swish', name: `${name}_depthwise`, seeds, ...BN });
      y = squeezeExcite(y, expanded, Math.max(1, Math.floor(inputC / 4)), 'swish', 'sigmoid', `${name}_se`, seeds);
      y = convBn(y, { filters: output, kernel: 1, act: 'linear', name: `${name}_project`, seeds, ...BN });
      if (stride === 1 && inputC === output) y = apply(tf.layers.add({ name: `${name}_add` }), [x, y]);
      x = y;
    }
  }
  x = convBn(x, { filters: 4 * ch(320), kernel: 1, act: 'swish', name: 'head', seeds, ...BN });
  x = apply(tf.layers.globalAveragePooling2d({ name: 'pool' }), x);
  const logits = classifier(x, spec, 0.2, seeds);
  return tf.model({ inputs: input, outputs: logits, name: 'efficientnet_b0' });
}
