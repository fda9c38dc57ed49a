/**
 * ResNet-18 and ResNet-50 (He et al. 2016) as torchvision defines them: 7x7/2 stem with batch
 * norm and ReLU, 3x3/2 max pool, four stages of basic blocks (18: [2, 2, 2, 2]) or bottleneck
 * blocks (50: [3, 4, 6, 3], expansion 4, stride on the 3x3 conv as in "ResNet v1.5"), a 1x1
 * projection shortcut with batch norm wherever the shape changes, global average pooling and
 * the logits. widthMultiplier scales every stage's width. No dropout unless the spec asks.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelSpec } from '../engine.js';
import { SeedSequence, type Sym, activation, apply, classifier, convBn, requireMinSide } from './blocks.js';

export const RESNET_MIN_SIDE = 32;

const BN = { epsilon: 1e-5, momentum: 0.9 };

interface Variant {
  bottleneck: boolean;
  stages: [number, number, number, number];
}

const VARIANTS: Record<'resnet-18' | 'resnet-50', Variant> = {
  'resnet-18': { bottleneck: false, stages: [2, 2, 2, 2] },
  'resnet-50': { bottleneck: true, stages: [3, 4, 6, 3] },
};

function shortcut(x: Sym, inC: number, outC: number, stride: number, name: string, seeds: SeedSequence): Sym {
  if (stride === 1 && inC === outC) return x;
  return convBn(x, { filters: outC, kernel: 1, stride, act: 'linear', name: `${name}_downsample`, seeds, ...BN });
}

function basicBlock(x: Sym, inC: number, planes: number, stride: number, name: string, seeds: SeedSequence): Sym {
  let y = convBn(x, { filters: planes, kernel: 3, stride, act: 'relu', name: `${name}_conv1`, seeds, ...BN });
  y = convBn(y, { filters: planes, kernel: 3, act: 'linear', name: `${name}_conv2`, seeds, ...BN });
  const skip = shortcut(x, inC, planes, stride, name, seeds);
  return activation(apply(tf.layers.add({ name: `${name}_add` }), [skip, y]), 'relu', `${name}_out`);
}

function bottleneckBlock(x: Sym, inC: number, planes: number, stride: number, name: string, seeds: SeedSequence): Sym {
  let y = convBn(x, { filters: planes, kernel: 1, act: 'relu', name: `${name}_conv1`, seeds, ...BN });
  y = convBn(y, { filters: planes, kernel: 3, stride, act: 'relu', name: `${name}_conv2`, seeds, ...BN });
  y = convBn(y, { filters: 4 * planes, kernel: 1, act: 'linear', name: `${name}_conv3`, seeds, ...BN });
  const skip = shortcut(x, inC, 4 * planes, stride, name, seeds);
  return activation(apply(tf.layers.add({ name: `${name}_add` }), [skip, y]), 'relu', `${name}_out`);
}

export function buildResNet(spec: ModelSpec, seed: number, architecture: 'resnet-18' | 'resnet-50'): tf.LayersModel {
  requireMinSide(spec, RESNET_MIN_SIDE);
  const { bottleneck, stages } = VARIANTS[architecture];
  const m = spec.widthMultiplier ?? 1;
  const ch = (c: number) => Math.max(1, Math.round(c * m));
  const seeds = new SeedSequence(seed);

  const input = tf.input({ shape: spec.inputShape, name: 'image' });
  let x = convBn(input, { filters: ch(64), kernel: 7, stride: 2, act: 'relu', name: 'stem', seeds, ...BN, input: true });
  x = apply(tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'stem_pool' }), x);
  let channels = ch(64);
  stages.forEach((blocks, s) => {
    const planes = ch(64 * 2 ** s);
    for (let b = 0; b < blocks; b++) {
      const stride = s > 0 && b === 0 ? 2 : 1;
      const name = `stage${s + 1}_block${b + 1}`;
      x = bottleneck ? bottleneckBlock(x, channels, planes, stride, name, seeds) : basicBlock(x, channels, planes, stride, name, seeds);
      channels = bottleneck ? 4 * planes : planes;
    }
  });
  x = apply(tf.layers.globalAveragePooling2d({ name: 'pool' }), x);
  const logits = classifier(x, spec, 0, seeds);
  return tf.model({ inputs: input, outputs: logits, name: architecture.replace('-', '_') });
}
