import { expect } from 'vitest';

/** How two equally long sample arrays differ: the largest and mean absolute difference, and how many samples differ. */
export function pixelDiff(a: Uint8Array, b: Uint8Array): { max: number; mean: number; differing: number } {
  expect(a.length).toBe(b.length);
  let max = 0;
  let sum = 0;
  let differing = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] ?? 0) - (b[i] ?? 0));
    if (d > max) max = d;
    if (d > 0) differing++;
    sum += d;
  }
  return { max, mean: sum / a.length, differing };
}

export const maxDiff = (a: Uint8Array, b: Uint8Array): number => pixelDiff(a, b).max;
export const meanDiff = (a: Uint8Array, b: Uint8Array): number => pixelDiff(a, b).mean;
