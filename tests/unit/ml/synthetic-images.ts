import type { ImageBatchSource } from '../../../src/ml/engine.js';
import { createRng } from '../../../src/ml/seeded-random.js';

/**
 * `count` grey 16x16 images in 4 classes that a small CNN separates within an epoch or two:
 * class k has a bright 6x6 block in quadrant k (jittered by up to 2 px) over seeded noise.
 */
export function quadrantImages(count: number, seed: number, side = 16): ImageBatchSource {
  const next = createRng(seed);
  const images = new Uint8Array(count * side * side);
  const labels = new Int32Array(count);
  const half = side / 2;
  for (let i = 0; i < count; i++) {
    const label = i % 4;
    labels[i] = label;
    const base = i * side * side;
    for (let p = 0; p < side * side; p++) images[base + p] = Math.floor(next() * 60);
    const top = (label >> 1) * half + 1 + Math.floor(next() * 2);
    const left = (label & 1) * half + 1 + Math.floor(next() * 2);
    for (let r = top; r < top + 6; r++) {
      for (let c = left; c < left + 6; c++) images[base + r * side + c] = 180 + Math.floor(next() * 75);
    }
  }
  return { images, labels, count, shape: [side, side, 1], scaling: '0-1' };
}
