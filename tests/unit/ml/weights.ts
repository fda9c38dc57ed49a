import { expect } from 'vitest';
import { modelFromBytes } from '../../../src/ml/model-bytes.js';

/** Every weight of a model stored as bytes, as plain arrays (the model is disposed). */
export async function weightsOf(bytes: Uint8Array): Promise<Float32Array[]> {
  const model = await modelFromBytes(bytes);
  const values = model.getWeights().map((w) => Float32Array.from(w.dataSync()));
  model.dispose();
  return values;
}

/** Largest absolute difference between two models' weights, which must have the same shapes. */
export function maxDifference(a: Float32Array[], b: Float32Array[]): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  a.forEach((values, i) => {
    const other = b[i]!;
    expect(values.length).toBe(other.length);
    for (let j = 0; j < values.length; j++) worst = Math.max(worst, Math.abs(values[j]! - other[j]!));
  });
  return worst;
}
