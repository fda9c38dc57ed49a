/**
 * Seeded stratified split: every class is divided in the requested proportions, so a rare class
 * is not left out of validation by chance, and the same seed always gives the same split.
 */
import { createRng, type Rng } from '../core/rng.js';

export interface SplitFractions {
  train: number;
  val: number;
  /** May be 0 when the dataset has its own test folder. */
  test: number;
}

export interface SplitIndices {
  train: number[];
  val: number[];
  test: number[];
}

function shuffleInPlace(values: number[], rng: Rng): void {
  for (let i = values.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = values[i] as number;
    values[i] = values[j] as number;
    values[j] = tmp;
  }
}

function validateFractions(fractions: SplitFractions): void {
  for (const name of ['train', 'val', 'test'] as const) {
    const value = fractions[name];
    if (!Number.isFinite(value) || value < 0 || value > 1) {
      throw new RangeError(`split fraction ${name} must be in [0, 1], got ${String(value)}`);
    }
  }
  if (fractions.train <= 0) throw new RangeError(`split fraction train must be > 0, got ${fractions.train}`);
  const sum = fractions.train + fractions.val + fractions.test;
  if (Math.abs(sum - 1) > 1e-6) {
    throw new RangeError(`split fractions must sum to 1, got train ${fractions.train} + val ${fractions.val} + test ${fractions.test} = ${sum}`);
  }
}

/**
 * Splits indices `0..labels.length-1` per class: each class gives `round(n * val)` to val,
 * `round(n * test)` to test and the rest to train. Each returned list is shuffled (seeded), so
 * classes are interleaved rather than in label order.
 */
export function stratifiedSplit(labels: ArrayLike<number>, fractions: SplitFractions, seed: number): SplitIndices {
  validateFractions(fractions);
  const rng = createRng(seed);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] as number;
    if (!Number.isInteger(label) || label < 0) {
      throw new RangeError(`split labels must be integers >= 0, got ${String(label)} at index ${i}`);
    }
    let members = byClass.get(label);
    if (!members) byClass.set(label, (members = []));
    members.push(i);
  }
  const result: SplitIndices = { train: [], val: [], test: [] };
  // Classes in label order so the sequence of rng draws, hence the split, depends only on the data.
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = byClass.get(label) ?? [];
    shuffleInPlace(members, rng);
    const n = members.length;
    const test = Math.min(n, Math.round(n * fractions.test));
    const val = Math.min(n - test, Math.round(n * fractions.val));
    for (let k = 0; k < n; k++) {
      const target = k < test ? result.test : k < test + val ? result.val : result.train;
      target.push(members[k] as number);
    }
  }
  shuffleInPlace(result.train, rng);
  shuffleInPlace(result.val, rng);
  shuffleInPlace(result.test, rng);
  return result;
}

const SPLIT_NAMES = ['train', 'val', 'test'] as const;

/**
 * Stratified split that keeps groups whole: items sharing a group id (say near-duplicates, or
 * photos of one subject) all land in the same split, so none leaks from train into evaluation.
 * An item whose group is `undefined` is a group of its own.
 *
 * Groups are placed greedily, largest first (equal sizes in seeded random order), each into the
 * split where it most reduces the squared shortfall from the per-class targets
 * `fraction * class size`, every class weighted by 1 / its size so small classes count as much as
 * large ones. A group holding a class that train has not seen yet goes to train, so a class with
 * very few items reaches train first (as in stratifiedSplit, where one item goes to train). Splits
 * with fraction 0 receive nothing. Each returned list is shuffled (seeded); the same labels, groups,
 * fractions and seed always give the same split.
 */
export function groupedStratifiedSplit(
  labels: Int32Array,
  groups: readonly (string | undefined)[],
  fractions: SplitFractions,
  seed: number,
): SplitIndices {
  validateFractions(fractions);
  if (!(labels instanceof Int32Array)) throw new RangeError(`groupedStratifiedSplit: labels must be an Int32Array, got ${String(labels)}`);
  const n = labels.length;
  if (!Array.isArray(groups) || groups.length !== n) {
    throw new RangeError(`groupedStratifiedSplit: groups must be an array as long as labels (${n}), got ${Array.isArray(groups) ? `length ${groups.length}` : String(groups)}`);
  }
  const rng = createRng(seed);

  // Dense class indices, in label order.
  const classOf = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const label = labels[i] as number;
    if (label < 0) throw new RangeError(`groupedStratifiedSplit: labels must be >= 0, got ${label} at index ${i}`);
    classOf.set(label, 0);
  }
  const classLabels = [...classOf.keys()].sort((a, b) => a - b);
  classLabels.forEach((label, c) => classOf.set(label, c));
  const classCount = classLabels.length;
  const classSize = new Float64Array(classCount);
  const itemClass = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = classOf.get(labels[i] as number) as number;
    itemClass[i] = c;
    classSize[c] = (classSize[c] as number) + 1;
  }

  // Group members, groups in order of first appearance.
  const groupOf = new Map<string, number>();
  const members: number[][] = [];
  for (let i = 0; i < n; i++) {
    const id = groups[i];
    if (id !== undefined && typeof id !== 'string') {
      throw new RangeError(`groupedStratifiedSplit: groups[${i}] must be a string or undefined, got ${String(id)}`);
    }
    let g = id === undefined ? undefined : groupOf.get(id);
    if (g === undefined) {
      g = members.length;
      members.push([]);
      if (id !== undefined) groupOf.set(id, g);
    }
    (members[g] as number[]).push(i);
  }

  // Largest first; a seeded shuffle beforehand orders equal sizes at random (the sort is stable).
  const order = Array.from(members.keys());
  shuffleInPlace(order, rng);
  order.sort((a, b) => (members[b] as number[]).length - (members[a] as number[]).length);

  const splits = SPLIT_NAMES.filter((name) => fractions[name] > 0);
  const target = SPLIT_NAMES.map((name) => Float64Array.from(classSize, (size) => size * fractions[name]));
  const placed = SPLIT_NAMES.map(() => new Float64Array(classCount));
  const result: SplitIndices = { train: [], val: [], test: [] };
  const groupCount = new Float64Array(classCount);
  const groupClasses: number[] = [];

  for (const g of order) {
    const items = members[g] as number[];
    groupClasses.length = 0;
    for (const i of items) {
      const c = itemClass[i] as number;
      if (groupCount[c] === 0) groupClasses.push(c);
      groupCount[c] = (groupCount[c] as number) + 1;
    }
    const trainPlaced = placed[0] as Float64Array;
    let choice: (typeof SPLIT_NAMES)[number] = 'train';
    if (!groupClasses.some((c) => trainPlaced[c] === 0)) {
      let best = Infinity;
      for (const name of splits) {
        const s = SPLIT_NAMES.indexOf(name);
        const have = placed[s] as Float64Array;
        const want = target[s] as Float64Array;
        // Change in sum over classes of (placed - target)^2 / class size if the group goes here.
        let delta = 0;
        for (const c of groupClasses) {
          const k = groupCount[c] as number;
          delta += (k * (2 * ((have[c] as number) - (want[c] as number)) + k)) / (classSize[c] as number);
        }
        // Strictly better only, so ties go to the earlier split (train, then val, then test).
        if (delta < best - 1e-12) {
          best = delta;
          choice = name;
        }
      }
    }
    const s = SPLIT_NAMES.indexOf(choice);
    const have = placed[s] as Float64Array;
    for (const c of groupClasses) {
      have[c] = (have[c] as number) + (groupCount[c] as number);
      groupCount[c] = 0;
    }
    for (const i of items) result[choice].push(i);
  }
  shuffleInPlace(result.train, rng);
  shuffleInPlace(result.val, rng);
  shuffleInPlace(result.test, rng);
  return result;
}
