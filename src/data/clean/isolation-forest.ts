/**
 * Isolation forest (Liu, Ting & Zhou 2008), following scikit-learn's IsolationForest: each tree is
 * grown on a random subsample of min(sampleSize, n) rows drawn without replacement, splitting on a
 * random feature (among those not constant in the node) at a threshold drawn uniformly between the
 * node's minimum and maximum of it (rows <= threshold go left), down to single rows or the height
 * limit ceil(log2(subsample size)). A row's path length in a tree is the depth of the leaf it
 * reaches plus c(leaf size), the average path length of an unsuccessful binary-search-tree lookup
 * among that many rows. The anomaly score is s(x) = 2^(-E[h(x)] / c(subsample size)), in (0, 1):
 * about 0.5 or less for ordinary rows, approaching 1 for rows isolated in a few splits. It is
 * scikit-learn's `-score_samples(x)`; the random draws differ, so the numbers agree only in
 * distribution.
 *
 * All randomness comes from the seeded generator: the same rows, options and seed give the same
 * forest and scores everywhere.
 */
import { createRng, type Rng } from '../../core/rng.js';

export interface IsolationForestOptions {
  /** Number of trees (scikit-learn's n_estimators), >= 1. */
  trees: number;
  /** Rows per tree (max_samples), >= 2; capped at the number of rows. */
  sampleSize: number;
  /** Seed of the generator that draws subsamples, features and thresholds. */
  seed: number;
}

const EULER_GAMMA = 0.5772156649015329;

/** c(n): average path length of an unsuccessful search in a binary search tree of n keys. */
export function averagePathLength(n: number): number {
  if (n <= 1) return 0;
  if (n === 2) return 1;
  return 2 * (Math.log(n - 1) + EULER_GAMMA) - (2 * (n - 1)) / n;
}

/**
 * One tree in preorder: node i's left child is i + 1, its right child `right[i]`. `feature[i]` is
 * -1 at a leaf, whose `value[i]` is the number of training rows that reached it; elsewhere
 * `value[i]` is the split threshold.
 */
interface Tree {
  feature: Int32Array;
  value: Float64Array;
  right: Int32Array;
}

interface ForestJson {
  format: 'isolation-forest';
  version: 1;
  dims: number;
  sampleSize: number;
  trees: { feature: number[]; value: number[]; right: number[] }[];
}

function checkRow(fn: string, row: readonly number[], dims: number, where: string): void {
  if (!Array.isArray(row) || row.length !== dims) {
    throw new RangeError(`${fn}: ${where} must be an array of ${dims} numbers, got ${Array.isArray(row) ? `length ${row.length}` : String(row)}`);
  }
  for (let f = 0; f < dims; f++) {
    if (!Number.isFinite(row[f])) throw new RangeError(`${fn}: ${where}[${f}] must be finite, got ${String(row[f])}`);
  }
}

class TreeBuilder {
  private feature: number[] = [];
  private value: number[] = [];
  private right: number[] = [];
  private readonly lows: Float64Array;
  private readonly highs: Float64Array;
  private readonly candidates: Int32Array;

  constructor(
    private readonly rows: readonly (readonly number[])[],
    private readonly dims: number,
    private readonly maxDepth: number,
    private readonly rng: Rng,
  ) {
    this.lows = new Float64Array(dims);
    this.highs = new Float64Array(dims);
    this.candidates = new Int32Array(dims);
  }

  build(sample: Int32Array): Tree {
    this.feature = [];
    this.value = [];
    this.right = [];
    this.grow(sample, 0, sample.length, 0);
    return { feature: Int32Array.from(this.feature), value: Float64Array.from(this.value), right: Int32Array.from(this.right) };
  }

  private leaf(size: number): void {
    this.feature.push(-1);
    this.value.push(size);
    this.right.push(-1);
  }

  /** Grows the subtree over sample[lo..hi), partitioning that range in place. */
  private grow(sample: Int32Array, lo: number, hi: number, depth: number): void {
    const size = hi - lo;
    if (size <= 1 || depth >= this.maxDepth) return this.leaf(size);
    const { rows, dims, lows, highs, candidates } = this;
    lows.fill(Infinity);
    highs.fill(-Infinity);
    for (let k = lo; k < hi; k++) {
      const row = rows[sample[k] as number] as readonly number[];
      for (let f = 0; f < dims; f++) {
        const v = row[f] as number;
        if (v < (lows[f] as number)) lows[f] = v;
        if (v > (highs[f] as number)) highs[f] = v;
      }
    }
    let count = 0;
    for (let f = 0; f < dims; f++) if ((highs[f] as number) > (lows[f] as number)) candidates[count++] = f;
    // All rows identical: nothing separates them.
    if (count === 0) return this.leaf(size);
    const f = candidates[this.rng.int(count)] as number;
    const min = lows[f] as number;
    const max = highs[f] as number;
    let threshold = min + this.rng.next() * (max - min);
    // Rounding can land on max, which would send every row left.
    if (threshold >= max) threshold = min;

    let i = lo;
    let j = hi - 1;
    while (i <= j) {
      if (((rows[sample[i] as number] as readonly number[])[f] as number) <= threshold) i++;
      else {
        const tmp = sample[i] as number;
        sample[i] = sample[j] as number;
        sample[j] = tmp;
        j--;
      }
    }
    const node = this.feature.length;
    this.feature.push(f);
    this.value.push(threshold);
    this.right.push(-1);
    this.grow(sample, lo, i, depth + 1);
    this.right[node] = this.feature.length;
    this.grow(sample, i, hi, depth + 1);
  }
}

export class IsolationForest {
  private constructor(
    private readonly trees: readonly Tree[],
    /** Feature count of every row. */
    readonly dims: number,
    /** Rows each tree was grown on: min(options.sampleSize, rows). */
    readonly sampleSize: number,
  ) {}

  /** Grows a forest on `rows` (all of one length, finite values). */
  static fit(rows: readonly (readonly number[])[], options: IsolationForestOptions): IsolationForest {
    if (!Array.isArray(rows) || rows.length < 1) throw new RangeError(`IsolationForest.fit: rows must be a non-empty array, got ${Array.isArray(rows) ? 'length 0' : String(rows)}`);
    const { trees, sampleSize, seed } = options;
    if (!Number.isInteger(trees) || trees < 1) throw new RangeError(`IsolationForest.fit: options.trees must be an integer >= 1, got ${String(trees)}`);
    if (!Number.isInteger(sampleSize) || sampleSize < 2) {
      throw new RangeError(`IsolationForest.fit: options.sampleSize must be an integer >= 2, got ${String(sampleSize)}`);
    }
    if (!Number.isSafeInteger(seed)) throw new RangeError(`IsolationForest.fit: options.seed must be a safe integer, got ${String(seed)}`);
    const first = rows[0] as readonly number[];
    const dims = Array.isArray(first) ? first.length : 0;
    if (dims < 1) throw new RangeError(`IsolationForest.fit: rows[0] must be a non-empty array of numbers, got ${String(first)}`);
    for (let r = 0; r < rows.length; r++) checkRow('IsolationForest.fit', rows[r] as readonly number[], dims, `rows[${r}]`);

    const n = rows.length;
    const psi = Math.min(sampleSize, n);
    const maxDepth = Math.ceil(Math.log2(Math.max(psi, 2)));
    const rng = createRng(seed);
    const builder = new TreeBuilder(rows, dims, maxDepth, rng);
    // A partial Fisher-Yates shuffle per tree: each tree's first psi entries are a uniform sample
    // without replacement whatever order earlier trees left the pool in.
    const pool = new Int32Array(n);
    for (let i = 0; i < n; i++) pool[i] = i;
    const grown: Tree[] = [];
    for (let t = 0; t < trees; t++) {
      for (let k = 0; k < psi; k++) {
        const j = k + rng.int(n - k);
        const tmp = pool[k] as number;
        pool[k] = pool[j] as number;
        pool[j] = tmp;
      }
      grown.push(builder.build(pool.slice(0, psi)));
    }
    return new IsolationForest(grown, dims, psi);
  }

  /** Anomaly score of one row, in (0, 1): higher is more anomalous. */
  score(row: readonly number[]): number {
    checkRow('IsolationForest.score', row, this.dims, 'row');
    return this.scoreUnchecked(row);
  }

  /** Scores of many rows. */
  scoreAll(rows: readonly (readonly number[])[]): Float64Array {
    const out = new Float64Array(rows.length);
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r] as readonly number[];
      checkRow('IsolationForest.scoreAll', row, this.dims, `rows[${r}]`);
      out[r] = this.scoreUnchecked(row);
    }
    return out;
  }

  private scoreUnchecked(row: readonly number[]): number {
    const norm = averagePathLength(this.sampleSize);
    // One training row: every path is empty and nothing stands out.
    if (norm === 0) return 0.5;
    let total = 0;
    for (const tree of this.trees) {
      const { feature, value, right } = tree;
      let node = 0;
      let depth = 0;
      for (let f = feature[0] as number; f >= 0; f = feature[node] as number) {
        node = (row[f] as number) <= (value[node] as number) ? node + 1 : (right[node] as number);
        depth++;
      }
      total += depth + averagePathLength(value[node] as number);
    }
    return 2 ** (-total / this.trees.length / norm);
  }

  /** A plain-JSON form of the forest (thresholds as exact doubles); `fromJSON` restores it. */
  toJSON(): ForestJson {
    return {
      format: 'isolation-forest',
      version: 1,
      dims: this.dims,
      sampleSize: this.sampleSize,
      trees: this.trees.map((t) => ({ feature: Array.from(t.feature), value: Array.from(t.value), right: Array.from(t.right) })),
    };
  }

  /** Restores a forest from `toJSON`'s output, checking its structure. */
  static fromJSON(json: unknown): IsolationForest {
    const fail = (what: string): never => {
      throw new Error(`IsolationForest.fromJSON: ${what}`);
    };
    if (typeof json !== 'object' || json === null) return fail(`expected an object, got ${String(json)}`);
    const j = json as Partial<Record<keyof ForestJson, unknown>>;
    if (j.format !== 'isolation-forest' || j.version !== 1) return fail(`expected format 'isolation-forest' version 1, got ${String(j.format)} version ${String(j.version)}`);
    const dims = j.dims;
    const sampleSize = j.sampleSize;
    if (typeof dims !== 'number' || !Number.isInteger(dims) || dims < 1) return fail(`dims must be an integer >= 1, got ${String(dims)}`);
    if (typeof sampleSize !== 'number' || !Number.isInteger(sampleSize) || sampleSize < 1) {
      return fail(`sampleSize must be an integer >= 1, got ${String(sampleSize)}`);
    }
    if (!Array.isArray(j.trees) || j.trees.length < 1) return fail('trees must be a non-empty array');
    const trees = (j.trees as unknown[]).map((raw, t): Tree => {
      const tree = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
      const arrays = ['feature', 'value', 'right'].map((key) => {
        const a = tree[key];
        if (!Array.isArray(a) || a.length < 1 || !a.every((v) => typeof v === 'number' && Number.isFinite(v))) {
          return fail(`trees[${t}].${key} must be a non-empty array of finite numbers`);
        }
        return a as number[];
      });
      const [feature = [], value = [], right = []] = arrays;
      const nodes = feature.length;
      if (value.length !== nodes || right.length !== nodes) return fail(`trees[${t}]: feature, value and right differ in length`);
      // Children come after their parent, so every walk moves forward and ends.
      for (let i = 0; i < nodes; i++) {
        const f = feature[i] as number;
        const r = right[i] as number;
        if (f === -1) {
          const size = value[i] as number;
          if (!Number.isInteger(size) || size < 0 || size > sampleSize) return fail(`trees[${t}] leaf ${i} has size ${size}, outside [0, ${sampleSize}]`);
        } else if (!Number.isInteger(f) || f < 0 || f >= dims) {
          return fail(`trees[${t}] node ${i} splits on feature ${f}, outside [0, ${dims})`);
        } else if (i + 1 >= nodes || !Number.isInteger(r) || r <= i + 1 || r >= nodes) {
          return fail(`trees[${t}] node ${i} has children ${i + 1} and ${r}, not within (${i}, ${nodes})`);
        }
      }
      return { feature: Int32Array.from(feature), value: Float64Array.from(value), right: Int32Array.from(right) };
    });
    return new IsolationForest(trees, dims, sampleSize);
  }
}

function checkScores(fn: string, scores: ArrayLike<number>, contamination: number): void {
  if (!Number.isFinite(contamination) || contamination < 0 || contamination > 1) {
    throw new RangeError(`${fn}: contamination must be in [0, 1], got ${String(contamination)}`);
  }
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i])) throw new RangeError(`${fn}: scores[${i}] must be finite, got ${String(scores[i])}`);
  }
}

/** ceil(contamination * n), forgiving the rounding of products like 0.002 * 5000. */
function flaggedLimit(contamination: number, n: number): number {
  return Math.min(n, Math.ceil(contamination * n - 1e-9));
}

/**
 * The score at or above which the top `contamination` fraction of `scores` lies: the k-th highest
 * score, k = ceil(contamination * n). When ties at that score would flag more than k, the threshold
 * moves up to the next higher score, so never more than k are flagged (possibly fewer, or none:
 * Infinity). Contamination 0, or no scores, gives Infinity.
 */
export function contaminationThreshold(scores: ArrayLike<number>, contamination: number): number {
  checkScores('contaminationThreshold', scores, contamination);
  const k = flaggedLimit(contamination, scores.length);
  if (k === 0) return Infinity;
  const sorted = Float64Array.from(scores).sort().reverse();
  const kth = sorted[k - 1] as number;
  // Ties continue past k: use the lowest score strictly above kth, if any.
  if (k < sorted.length && sorted[k] === kth) {
    let i = k - 1;
    while (i >= 0 && sorted[i] === kth) i--;
    return i >= 0 ? (sorted[i] as number) : Infinity;
  }
  return kth;
}

/** Indices of the scores at or above `contaminationThreshold`, highest score first (ties by index). */
export function topOutliers(scores: ArrayLike<number>, contamination: number): number[] {
  const threshold = contaminationThreshold(scores, contamination);
  const flagged: number[] = [];
  for (let i = 0; i < scores.length; i++) if ((scores[i] as number) >= threshold) flagged.push(i);
  return flagged.sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b);
}
