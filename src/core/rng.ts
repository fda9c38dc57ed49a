/**
 * A small seeded pseudo-random generator (sfc32, seeded through splitmix32). Pure and
 * deterministic, so workflow code may import it: the same seed gives the same sequence on every
 * machine and every replay. Not for cryptography.
 */

export interface Rng {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). `n` must be an integer in [1, 2^32]. */
  int(n: number): number;
}

const TWO_POW_32 = 4294967296;

/** splitmix32 step: spreads a seed's bits so nearby seeds start far apart. */
function splitmix32(state: number): [number, number] {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [next, z >>> 0];
}

/**
 * Creates a generator from an integer seed. Seeds beyond 32 bits use their high bits too, so
 * `2^32 + 1` and `1` give different sequences.
 */
export function createRng(seed: number): Rng {
  if (!Number.isSafeInteger(seed)) {
    throw new RangeError(`rng seed must be a safe integer, got ${String(seed)}`);
  }
  const low = seed >>> 0;
  const high = Math.floor(seed / TWO_POW_32) >>> 0;
  let mix = (low ^ Math.imul(high, 0x27d4eb2d)) | 0;
  let a: number;
  let b: number;
  let c: number;
  [mix, a] = splitmix32(mix);
  [mix, b] = splitmix32(mix);
  [mix, c] = splitmix32(mix);
  let counter = 1;

  const nextUint32 = (): number => {
    const t = (((a + b) | 0) + counter) | 0;
    counter = (counter + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return t >>> 0;
  };

  // The generator's first outputs still echo the seed; discarding a few is the usual remedy.
  for (let i = 0; i < 12; i++) nextUint32();

  return {
    next: () => nextUint32() / TWO_POW_32,
    int(n: number): number {
      if (!Number.isInteger(n) || n < 1 || n > TWO_POW_32) {
        throw new RangeError(`rng.int(n) needs an integer n in [1, 2^32], got ${String(n)}`);
      }
      return Math.floor((nextUint32() / TWO_POW_32) * n);
    },
  };
}
