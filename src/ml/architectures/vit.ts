/**
 * ViT-Tiny (Dosovitskiy et al. 2021; DeiT-Ti / timm vit_tiny_patch16_224): non-overlapping
 * patch embedding (a patch x patch conv with stride patch), a learned class token and learned
 * position embeddings, 12 pre-norm transformer blocks (layer norm, 3-head self-attention,
 * residual; layer norm, MLP 192 -> 768 -> 192 with exact GELU, residual), a final layer norm,
 * the class token and the logits. widthMultiplier scales the per-head width (64); heads, depth
 * and the MLP ratio are fixed.
 */
import * as tf from '@tensorflow/tfjs';
import type { ModelSpec } from '../engine.js';
import { inputConv2d } from '../layers/input-conv.js';
import { ClassTokenAndPosition, MultiHeadSelfAttention, TakeClassToken } from '../layers/vit-layers.js';
import { SeedSequence, activation, apply, classifier } from './blocks.js';

export const VIT_TINY = { heads: 3, headDim: 64, depth: 12, mlpRatio: 4 } as const;
const LN_EPSILON = 1e-6;
const INIT_STD = 0.02;

/** The patch size a spec trains with: its own, else 16, or 4 for inputs below 64 px. */
export function vitPatchSize(spec: ModelSpec): number {
  return spec.patchSize ?? (Math.min(spec.inputShape[0], spec.inputShape[1]) < 64 ? 4 : 16);
}

export function buildVitTiny(spec: ModelSpec, seed: number): tf.LayersModel {
  const patch = vitPatchSize(spec);
  const [h, w] = spec.inputShape;
  if (h % patch !== 0 || w % patch !== 0) {
    throw new Error(`model.patchSize ${patch} must divide the input height and width, got inputShape [${spec.inputShape.join(', ')}]`);
  }
  const m = spec.widthMultiplier ?? 1;
  const dim = VIT_TINY.heads * Math.max(1, Math.round(VIT_TINY.headDim * m));
  const tokens = (h / patch) * (w / patch);
  const seeds = new SeedSequence(seed);
  const init = () => tf.initializers.truncatedNormal({ stddev: INIT_STD, seed: seeds.take() });

  const input = tf.input({ shape: spec.inputShape, name: 'image' });
  let x = apply(inputConv2d({
    filters: dim, kernelSize: patch, strides: patch, padding: 'valid', kernelInitializer: init(), name: 'patch_embed',
  }), input);
  x = apply(tf.layers.reshape({ targetShape: [tokens, dim], name: 'patch_tokens' }), x);
  x = apply(new ClassTokenAndPosition({ seed: seeds.take(), name: 'class_position' }), x);
  for (let b = 0; b < VIT_TINY.depth; b++) {
    const name = `block${b + 1}`;
    let y = apply(tf.layers.layerNormalization({ epsilon: LN_EPSILON, name: `${name}_norm1` }), x);
    y = apply(new MultiHeadSelfAttention({ numHeads: VIT_TINY.heads, seed: seeds.take(), name: `${name}_attention` }), y);
    x = apply(tf.layers.add({ name: `${name}_add1` }), [x, y]);
    y = apply(tf.layers.layerNormalization({ epsilon: LN_EPSILON, name: `${name}_norm2` }), x);
    y = apply(tf.layers.dense({ units: VIT_TINY.mlpRatio * dim, kernelInitializer: init(), name: `${name}_mlp1` }), y);
    y = activation(y, 'gelu', `${name}_gelu`);
    y = apply(tf.layers.dense({ units: dim, kernelInitializer: init(), name: `${name}_mlp2` }), y);
    x = apply(tf.layers.add({ name: `${name}_add2` }), [x, y]);
  }
  x = apply(tf.layers.layerNormalization({ epsilon: LN_EPSILON, name: 'norm' }), x);
  x = apply(new TakeClassToken({ name: 'class_token' }), x);
  const logits = classifier(x, spec, 0, seeds, init());
  return tf.model({ inputs: input, outputs: logits, name: 'vit_tiny' });
}
