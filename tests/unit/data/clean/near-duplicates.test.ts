import { describe, expect, it } from 'vitest';
import { createRng, type Rng } from '../../../../src/core/rng.js';
import { findNearDuplicates, findNearDuplicateWords } from '../../../../src/data/clean/near-duplicates.js';
import { hammingDistance, perceptualHash } from '../../../../src/data/clean/phash.js';
import { readMnistSplit } from '../../../../src/data/mnist-idx.js';

function random64(rng: Rng): bigint {
  return (BigInt(rng.int(2 ** 32)) << 32n) | BigInt(rng.int(2 ** 32));
}

/** Flips `bits` distinct random bits. */
function perturb(h: bigint, bits: number, rng: Rng): bigint {
  const chosen = new Set<number>();
  while (chosen.size < bits) chosen.add(rng.int(64));
  for (const b of chosen) h ^= 1n << BigInt(b);
  return h;
}

/** The O(n^2) definition: connected components over pairs within maxDistance. */
function bruteForce(hashes: readonly bigint[], maxDistance: number): number[][] {
  const n = hashes.length;
  const parent = Array.from({ length: n }, (_, i) => i);
  const find = (x: number): number => (parent[x] === x ? x : (parent[x] = find(parent[x] as number)));
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      if (hammingDistance(hashes[i] as bigint, hashes[j] as bigint) <= maxDistance) parent[find(i)] = find(j);
    }
  }
  const groups = new Map<number, number[]>();
  for (let i = 0; i < n; i++) {
    const r = find(i);
    groups.set(r, [...(groups.get(r) ?? []), i]);
  }
  return [...groups.values()].filter((g) => g.length >= 2).sort((a, b) => (a[0] as number) - (b[0] as number));
}

/**
 * Random hashes with planted near-duplicates at every distance up to 8, exact copies, chains
 * (a -> a' -> a'' drifting away) and a crowded region sharing most bits (full buckets).
 */
function plantedHashes(seed: number, n: number): bigint[] {
  const rng = createRng(seed);
  const hashes: bigint[] = [];
  const crowd = random64(rng);
  for (let i = 0; i < n; i++) {
    const kind = rng.int(10);
    const previous = hashes.length > 0 ? (hashes[rng.int(hashes.length)] as bigint) : undefined;
    if (previous === undefined || kind < 4) hashes.push(random64(rng));
    else if (kind === 4) hashes.push(previous);
    else if (kind === 5) hashes.push(perturb(hashes[hashes.length - 1] as bigint, 1 + rng.int(4), rng));
    else if (kind <= 7) hashes.push(perturb(previous, rng.int(9), rng));
    else hashes.push(perturb(crowd, 2 + rng.int(12), rng));
  }
  return hashes;
}

describe('findNearDuplicates', () => {
  it('matches the brute-force definition for d = 0..6 and beyond', () => {
    for (const seed of [1, 2, 3]) {
      const hashes = plantedHashes(seed, 600);
      for (const d of [0, 1, 2, 3, 4, 5, 6, 9, 14, 64]) {
        const found = findNearDuplicates(hashes, d);
        expect(found, `seed ${seed} d ${d}`).toEqual(bruteForce(hashes, d));
      }
    }
  });

  it('gives the same clusters whatever the block count (exact-block and probing searches)', () => {
    const hashes = plantedHashes(7, 300);
    const hi = Uint32Array.from(hashes, (h) => Number(h >> 32n));
    const lo = Uint32Array.from(hashes, (h) => Number(h & 0xffffffffn));
    for (const d of [1, 2, 3, 4, 5, 6, 8]) {
      const expected = bruteForce(hashes, d);
      for (let blocks = 2; blocks <= d + 1; blocks++) {
        expect(findNearDuplicateWords(hi, lo, d, blocks), `d ${d} blocks ${blocks}`).toEqual(expected);
      }
      expect(findNearDuplicateWords(hi, lo, d, 0)).toEqual(expected);
    }
    expect(() => findNearDuplicateWords(hi, lo, 2, 4)).toThrow(/blocks must be 0 or an integer in \[2, 3\], got 4/);
  });

  it('sorts members and clusters, skips singletons, handles the edges', () => {
    const a = 0xffff_0000_ffff_0000n;
    const hashes = [a ^ 3n, 5n, a, 5n, 1n << 63n, a ^ 1n];
    expect(findNearDuplicates(hashes, 0)).toEqual([[1, 3]]);
    expect(findNearDuplicates(hashes, 1)).toEqual([[0, 2, 5], [1, 3]]);
    expect(findNearDuplicates(hashes, 2)).toEqual([[0, 2, 5], [1, 3]]);
    expect(findNearDuplicates([], 3)).toEqual([]);
    expect(findNearDuplicates([7n], 3)).toEqual([]);
    expect(findNearDuplicates([0n, (1n << 64n) - 1n], 64)).toEqual([[0, 1]]);
    expect(findNearDuplicates([0n, (1n << 64n) - 1n], 63)).toEqual([]);
    expect(findNearDuplicateWords(Uint32Array.of(1, 1, 7), Uint32Array.of(2, 3, 2), 1)).toEqual([[0, 1]]);
    expect(() => findNearDuplicates([1n], -1)).toThrow(/maxDistance must be an integer in \[0, 64\], got -1/);
    expect(() => findNearDuplicates([1n], 1.5)).toThrow(RangeError);
    expect(() => findNearDuplicates([1n, -2n], 1)).toThrow(/hashes\[1\] must be a bigint in \[0, 2\^64\), got -2/);
    expect(() => findNearDuplicateWords(new Uint32Array(2), new Uint32Array(3), 1)).toThrow(/hi.length 2 differs from lo.length 3/);
  });

  it('handles 1,000,000 hashes', () => {
    const rng = createRng(11);
    const n = 1_000_000;
    const hi = new Uint32Array(n);
    const lo = new Uint32Array(n);
    const planted: [number, number][] = [];
    for (let i = 0; i < n; i++) {
      if (i % 1000 === 999) {
        // A copy of an earlier hash with 2 bits flipped, one in each word.
        const j = rng.int(i);
        hi[i] = ((hi[j] as number) ^ (1 << rng.int(32))) >>> 0;
        lo[i] = ((lo[j] as number) ^ (1 << rng.int(32))) >>> 0;
        planted.push([j, i]);
      } else {
        hi[i] = rng.int(2 ** 32);
        lo[i] = rng.int(2 ** 32);
      }
    }
    for (const d of [2, 4]) {
      const started = performance.now();
      const clusters = findNearDuplicateWords(hi, lo, d);
      const ms = performance.now() - started;
      console.log(`1,000,000 random hashes, maxDistance ${d}: ${clusters.length} clusters in ${ms.toFixed(0)} ms`);
      const clusterOf = new Map<number, number>();
      clusters.forEach((c, k) => c.forEach((i) => clusterOf.set(i, k)));
      for (const [j, i] of planted) expect(clusterOf.get(i)).toBe(clusterOf.get(j));
      expect(clusterOf.size).toBeLessThanOrEqual(2 * planted.length + 10);
      expect(ms).toBeLessThan(30_000);
    }
  });
});

describe('near-duplicates in MNIST (70,000 digits)', () => {
  it('reports cluster counts for maxDistance 0..4', async () => {
    const train = await readMnistSplit('train');
    const test = await readMnistSplit('test');
    const digits = (i: number): Uint8Array =>
      i < train.count ? train.pixels.subarray(i * 784, (i + 1) * 784) : test.pixels.subarray((i - train.count) * 784, (i - train.count + 1) * 784);
    const label = (i: number): number => (i < train.count ? (train.labels[i] as number) : (test.labels[i - train.count] as number));
    const n = train.count + test.count;
    let started = performance.now();
    const hashes = Array.from({ length: n }, (_, i) => perceptualHash(digits(i), 28, 28, 1));
    const lines = [`pHash of ${n} digits: ${(performance.now() - started).toFixed(0)} ms`];
    const removed: number[] = [];
    for (const d of [0, 1, 2, 3, 4]) {
      started = performance.now();
      const clusters = findNearDuplicates(hashes, d);
      const ms = performance.now() - started;
      const images = clusters.reduce((sum, c) => sum + c.length, 0);
      const mixed = clusters.filter((c) => new Set(c.map(label)).size > 1).length;
      // Mean absolute pixel difference (0-255) between the first two members of each cluster.
      const l1 = clusters.map((c) => {
        const a = digits(c[0] as number);
        const b = digits(c[1] as number);
        let sum = 0;
        for (let k = 0; k < 784; k++) sum += Math.abs((a[k] as number) - (b[k] as number));
        return sum / 784;
      });
      l1.sort((x, y) => x - y);
      const q = (p: number): string => (l1[Math.floor(p * (l1.length - 1))] ?? 0).toFixed(1);
      removed.push(images - clusters.length);
      lines.push(
        `d=${d}: ${clusters.length} clusters, ${images} images, keeping one per cluster removes ${images - clusters.length} ` +
          `(${((100 * (images - clusters.length)) / n).toFixed(2)}%), largest ${Math.max(...clusters.map((c) => c.length))}, ` +
          `${mixed} clusters mix digit labels, ${ms.toFixed(0)} ms; first-pair mean |pixel diff| min ${q(0)} median ${q(0.5)} max ${q(1)}`,
      );
    }
    console.log(lines.join('\n'));
    // MNIST holds no two identical images, yet pHash at 28x28 merges distinct handwriting:
    // record the size of the effect so a change in the hash shows up here.
    expect(removed[0]).toBeGreaterThan(0);
    expect(removed[2]).toBeGreaterThan(removed[0] as number);
  });
});
