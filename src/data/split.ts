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
