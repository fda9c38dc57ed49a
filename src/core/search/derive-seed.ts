/**
 * Seeds for independent streams (one per trial, per purpose) derived from one sweep seed, so that
 * what trial n draws depends only on (seed, n) and never on how many draws came before it. That
 * is what makes a replayed or restored sampler propose exactly what it proposed the first time.
 */

const TWO_POW_32 = 4294967296;

/** murmur3's finaliser: every input bit affects every output bit. */
function fmix32(h: number): number {
  let x = h;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** A 32-bit seed for `createRng` from a seed and stream identifiers (all safe integers). */
export function deriveSeed(seed: number, ...parts: number[]): number {
  let h = 0x2545f491;
  for (const value of [seed, ...parts]) {
    if (!Number.isSafeInteger(value)) throw new RangeError(`seeds and trial numbers must be safe integers, got ${String(value)}`);
    h = fmix32((h ^ (value >>> 0)) + 0x9e3779b9);
    h = fmix32((h ^ (Math.floor(value / TWO_POW_32) >>> 0)) + 0x7f4a7c15);
  }
  return h;
}
