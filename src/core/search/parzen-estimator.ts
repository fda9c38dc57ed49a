/**
 * The densities TPE compares: a truncated Gaussian mixture per numeric parameter and weighted
 * counts per choice parameter, each with a prior component so that unexplored values keep some
 * probability. Follows Optuna's univariate TPE (3.x defaults).
 */
import type { Rng } from '../rng.js';
import { logNormalPdf, logSumExp, normalCdf, normalInterval, normalQuantile } from './normal-distribution.js';

/**
 * Optuna's default weights: equal for the last 25 observations, a linear ramp down for older
 * ones, so that early trials (drawn from the prior) count less once the model has something.
 */
export function observationWeights(n: number): number[] {
  const flat = 25;
  if (n < flat) return new Array<number>(n).fill(1);
  const ramp = n - flat;
  const out: number[] = [];
  for (let i = 0; i < ramp; i++) out.push(ramp === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (ramp - 1));
  for (let i = 0; i < flat; i++) out.push(1);
  return out;
}

export interface NumericMixture {
  low: number;
  high: number;
  mus: number[];
  sigmas: number[];
  /** log(weight / truncation mass) per component: the log normaliser of the truncated kernel folded in. */
  logScale: number[];
  weights: number[];
}

/**
 * Kernels at each observation (in trial order), with bandwidth the larger gap to a neighbour
 * (the smaller-side rule at the two extremes), clipped to [range / min(100, 1 + kernels), range];
 * plus a prior kernel at the centre with bandwidth equal to the whole range.
 */
export function buildNumericMixture(observations: readonly number[], low: number, high: number, priorWeight: number): NumericMixture {
  const range = high - low;
  const n = observations.length;
  const mus = observations.map((x) => Math.min(high, Math.max(low, x)));
  const sigmas = new Array<number>(n).fill(range);
  const order = mus.map((_, i) => i).sort((a, b) => (mus[a] as number) - (mus[b] as number) || a - b);
  const sorted = [low, ...order.map((i) => mus[i] as number), high];
  for (let r = 0; r < n; r++) {
    let sigma = Math.max((sorted[r + 1] as number) - (sorted[r] as number), (sorted[r + 2] as number) - (sorted[r + 1] as number));
    // Gaps to the bounds would make kernels at the extremes as wide as the space; use the inner gap.
    if (n >= 2 && r === 0) sigma = (sorted[2] as number) - (sorted[1] as number);
    if (n >= 2 && r === n - 1) sigma = (sorted[n] as number) - (sorted[n - 1] as number);
    sigmas[order[r] as number] = sigma;
  }
  const minSigma = range / Math.min(100, 2 + n);
  const clipped = sigmas.map((s) => Math.min(range, Math.max(minSigma, s)));
  clipped.push(range);
  mus.push((low + high) / 2);
  const raw = [...observationWeights(n), priorWeight];
  const total = raw.reduce((s, w) => s + w, 0);
  const weights = raw.map((w) => w / total);
  const logScale = mus.map((mu, k) => {
    const sigma = clipped[k] as number;
    return Math.log(weights[k] as number) - Math.log(normalInterval((low - mu) / sigma, (high - mu) / sigma));
  });
  return { low, high, mus, sigmas: clipped, logScale, weights };
}

/** One draw: pick a kernel by weight, then invert its CDF restricted to [low, high]. */
export function sampleNumeric(m: NumericMixture, rng: Rng): number {
  const k = pickIndex(m.weights, rng.next());
  const mu = m.mus[k] as number;
  const sigma = m.sigmas[k] as number;
  const lo = normalCdf((m.low - mu) / sigma);
  const hi = normalCdf((m.high - mu) / sigma);
  const x = mu + sigma * normalQuantile(lo + rng.next() * (hi - lo));
  return Math.min(m.high, Math.max(m.low, x));
}

/** log density of the mixture at x (for real-valued parameters). */
export function logDensity(m: NumericMixture, x: number): number {
  return logSumExp(m.mus.map((mu, k) => {
    const sigma = m.sigmas[k] as number;
    return (m.logScale[k] as number) + logNormalPdf((x - mu) / sigma) - Math.log(sigma);
  }));
}

/** log probability the mixture gives [a, b] (for integers: the interval that rounds to one value). */
export function logMass(m: NumericMixture, a: number, b: number): number {
  return logSumExp(m.mus.map((mu, k) => {
    const sigma = m.sigmas[k] as number;
    // Floor, not zero: a far-off kernel must not turn the whole sum into log(0) when all underflow.
    return (m.logScale[k] as number) + Math.log(Math.max(Number.MIN_VALUE, normalInterval((a - mu) / sigma, (b - mu) / sigma)));
  }));
}

/** Choice probabilities: weighted counts of each observed index plus the prior spread evenly. */
export function buildCategorical(indices: readonly number[], choices: number, priorWeight: number): number[] {
  const weights = observationWeights(indices.length);
  const mass = new Array<number>(choices).fill(priorWeight / choices);
  indices.forEach((c, i) => {
    mass[c] = (mass[c] as number) + (weights[i] as number);
  });
  const total = mass.reduce((s, w) => s + w, 0);
  return mass.map((w) => w / total);
}

/** Index drawn with probability proportional to `weights` (which sum to 1), given u in [0, 1). */
export function pickIndex(weights: readonly number[], u: number): number {
  let acc = 0;
  for (let i = 0; i < weights.length; i++) {
    acc += weights[i] as number;
    if (u < acc) return i;
  }
  return weights.length - 1;
}
