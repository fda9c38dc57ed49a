/**
 * Adam and SGD-with-momentum steps fused into one loop per variable on the wasm backend.
 *
 * tfjs's AdamOptimizer runs ~12 kernels per variable per step (each allocating a fresh tensor
 * on the wasm heap), MomentumOptimizer ~5; on a small CNN that was ~15% of a training step. On
 * wasm these subclasses update the weights and slots in place on the heap in one pass instead.
 * Every intermediate is rounded to float32 in the order tfjs's kernels compute it (a float32
 * add, multiply, divide or square root done in float64 and rounded once is the correctly
 * rounded float32 result), so the step matches the stock optimizer bit for bit.
 *
 * The weights themselves are written to a fresh heap buffer that then replaces the variable's
 * (as `assign` does): the backend caches XNNPACK convolution and matmul operators, with their
 * packed weights, per tensor, so a weight changed in place would leave a stale packed copy.
 * The slots (Adam's m and v, momentum accumulators) feed no such operator and change in place.
 *
 * State is the parent class's own: the same slot variables, names, creation order, iteration
 * count and accBeta scalars, so getWeights/setWeights (and every checkpoint written before)
 * are unchanged. On any other backend, or when a slot's heap buffer is shared with another
 * tensor (writing in place would change both), the stock path runs.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { simdKernels } from './kernels/simd/simd-kernels.js';

type VariableGradients = Parameters<tf.AdamOptimizer['applyGradients']>[0];
type NamedGradient = Extract<VariableGradients, unknown[]>[number];

interface SlotVariable {
  originalName: string;
  variable: tf.Variable;
}

interface AdamInternals {
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  accBeta1: tf.Variable;
  accBeta2: tf.Variable;
  accumulatedFirstMoment: (SlotVariable | undefined)[];
  accumulatedSecondMoment: (SlotVariable | undefined)[];
}

interface MomentumInternals {
  learningRate: number;
  momentum: number;
  useNesterov: boolean;
  accumulations: (SlotVariable | undefined)[];
}

interface HeapEntry {
  memoryOffset: number;
  refCount: number;
}

const f32 = Math.fround;

/**
 * Without the SIMD kernels (kernels/simd), above this many elements a variable takes tfjs's own
 * kernels (same order, same scalars, so still bit-identical). With them every variable takes
 * one SIMD pass (f32x4 arithmetic rounds as the JS pass does): MobileNetV3-Small's whole Adam
 * step ~2 ms. The JS fused pass is scalar: Adam's two divisions, square root and
 * float32 roundings cost ~13 ns per element, where XNNPACK's SIMD kernels win on large
 * tensors; what fusing saves is ~12 kernel dispatches and allocations per variable, which
 * dominates for the many small ones (biases, batch-norm scales, depthwise filters). Measured
 * on one thread, optimizer step alone: small CNN (8 variables, 225k parameters) Adam 4.1 ms
 * stock, 6.7 ms all fused, 2.7 ms split here; MobileNetV3-Small@96 (142 variables, 1.5M) Adam
 * 39-47 ms stock against 25-30 ms.
 */
const FUSED_MAX_SIZE = 16384;

function asList(gradients: VariableGradients): NamedGradient[] {
  return Array.isArray(gradients) ? gradients : Object.entries(gradients).map(([name, tensor]) => ({ name, tensor }));
}

/** The wasm backend when it is the active one, else undefined (the caller takes the stock path). */
function activeWasm(): BackendWasm | undefined {
  if (tf.getBackend() !== 'wasm') return undefined;
  const backend = tf.backend() as unknown as Partial<BackendWasm>;
  return typeof backend.typedArrayFromHeap === 'function' ? backend as BackendWasm : undefined;
}

function heapEntry(backend: BackendWasm, tensor: tf.Tensor): HeapEntry | undefined {
  const map = (backend as unknown as { dataIdMap: { get(id: object): HeapEntry | undefined } }).dataIdMap;
  return map.get(tensor.dataId);
}

/** A float32 view of `tensor`'s heap data; views die when the heap grows, so take them after every allocation. */
function view(backend: BackendWasm, tensor: tf.TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(tensor) as Float32Array;
}

/**
 * True when `read` (the weights) are float32 on the heap, every tensor in `written` (slots,
 * changed in place) is too and owns its buffer alone, and every gradient is float32 with its
 * variable's size.
 */
function fusable(backend: BackendWasm, read: tf.Tensor[], written: tf.Tensor[], gradients: (tf.Tensor | undefined)[], sizes: number[]): boolean {
  if (read.some((t) => t.dtype !== 'float32' || heapEntry(backend, t) === undefined)) return false;
  for (const t of written) {
    const entry = heapEntry(backend, t);
    if (t.dtype !== 'float32' || entry === undefined || entry.refCount !== 1) return false;
  }
  return gradients.every((g, i) => g === undefined || (g.dtype === 'float32' && g.size === sizes[i] && heapEntry(backend, g) !== undefined));
}

/** A fresh float32 heap buffer shaped like `value`, for its next value. */
function nextValue(backend: BackendWasm, value: tf.Variable): tf.TensorInfo {
  return backend.makeOutput(value.shape, 'float32');
}

/** Makes `info` (from nextValue, now filled) the variable's value. */
function commit(backend: BackendWasm, value: tf.Variable, info: tf.TensorInfo): void {
  const fresh = tf.engine().makeTensorFromTensorInfo(info, backend);
  value.assign(fresh);
  fresh.dispose();
}

function registered(name: string): tf.Variable {
  const value = tf.engine().registeredVariables[name];
  if (value === undefined) throw new Error(`optimizer step: no registered variable named ${name}`);
  return value;
}

function zeroSlot(name: string, value: tf.Variable): SlotVariable {
  return { originalName: name, variable: tf.tidy(() => tf.zerosLike(value).variable(false)) };
}

/**
 * One Adam step of one variable: `next` gets the new weights, m and v change in place.
 * `k` holds beta1, beta2, 1-beta1, 1-beta2, 1-beta1^t, 1-beta2^t, epsilon and -rate, each
 * already a float32 value.
 */
function adamPass(next: Float32Array, w: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, k: number[]): void {
  const [beta1, beta2, oneMinusBeta1, oneMinusBeta2, oneMinusAccBeta1, oneMinusAccBeta2, epsilon, negativeRate] = k as [number, number, number, number, number, number, number, number];
  const n = next.length;
  for (let j = 0; j < n; j++) {
    const gj = g[j]!;
    const mj = f32(f32(m[j]! * beta1) + f32(gj * oneMinusBeta1));
    const vj = f32(f32(v[j]! * beta2) + f32(f32(gj * gj) * oneMinusBeta2));
    m[j] = mj;
    v[j] = vj;
    const mHat = f32(mj / oneMinusAccBeta1);
    const vHat = f32(vj / oneMinusAccBeta2);
    const step = f32(f32(mHat / f32(f32(Math.sqrt(vHat)) + epsilon)) * negativeRate);
    next[j] = step + w[j]!;
  }
}

/** One momentum (or Nesterov) step of one variable: `next` gets the new weights, `a` changes in place. */
function momentumPass(next: Float32Array, w: Float32Array, a: Float32Array, g: Float32Array, momentum: number, negativeRate: number, nesterov: boolean): void {
  const n = next.length;
  for (let j = 0; j < n; j++) {
    const gj = g[j]!;
    const aj = f32(f32(momentum * a[j]!) + gj);
    a[j] = aj;
    const direction = nesterov ? f32(gj + f32(aj * momentum)) : aj;
    next[j] = f32(negativeRate * direction) + w[j]!;
  }
}

/** tfjs's Adam; on wasm, one pass per small variable. */
export class FusedAdamOptimizer extends tf.AdamOptimizer {
  override applyGradients(variableGradients: VariableGradients): void {
    const backend = activeWasm();
    if (backend === undefined) {
      super.applyGradients(variableGradients);
      return;
    }
    const self = this as unknown as AdamInternals;
    const list = asList(variableGradients);
    const values = list.map(({ name }) => registered(name));
    // Slots are created as the stock step creates them: both for every variable, in list order.
    values.forEach((value, i) => {
      self.accumulatedFirstMoment[i] ??= zeroSlot(`${list[i]!.name}/m`, value);
      self.accumulatedSecondMoment[i] ??= zeroSlot(`${list[i]!.name}/v`, value);
    });
    const firsts = values.map((_, i) => self.accumulatedFirstMoment[i]!.variable);
    const seconds = values.map((_, i) => self.accumulatedSecondMoment[i]!.variable);
    const gradients = list.map((g) => g.tensor ?? undefined);
    const written = [...firsts, ...seconds, self.accBeta1, self.accBeta2];
    if (!fusable(backend, values, written, gradients, values.map((v) => v.size))) {
      super.applyGradients(variableGradients);
      return;
    }
    const accBeta1Now = view(backend, self.accBeta1)[0]!;
    const accBeta2Now = view(backend, self.accBeta2)[0]!;
    const beta1 = f32(self.beta1);
    const beta2 = f32(self.beta2);
    const oneMinusBeta1 = f32(1 - self.beta1);
    const oneMinusBeta2 = f32(1 - self.beta2);
    const oneMinusAccBeta1 = f32(1 - accBeta1Now);
    const oneMinusAccBeta2 = f32(1 - accBeta2Now);
    const epsilon = f32(self.epsilon);
    const negativeRate = f32(-self.learningRate);
    const simd = simdKernels(backend);
    for (let i = 0; i < values.length; i++) {
      const gradient = gradients[i];
      if (gradient === undefined) continue;
      if (simd === undefined && gradient.size > FUSED_MAX_SIZE) {
        // The stock step's kernels, in its order, on the same float32 scalars.
        tf.tidy(() => {
          const m = tf.add(tf.mul(firsts[i]!, beta1), tf.mul(gradient, oneMinusBeta1));
          const v = tf.add(tf.mul(seconds[i]!, beta2), tf.mul(tf.square(gradient), oneMinusBeta2));
          const mHat = tf.div(m, oneMinusAccBeta1);
          const vHat = tf.div(v, oneMinusAccBeta2);
          firsts[i]!.assign(m);
          seconds[i]!.assign(v);
          values[i]!.assign(tf.add(tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), epsilon)), negativeRate), values[i]!));
        });
        continue;
      }
      const out = nextValue(backend, values[i]!);
      const next = view(backend, out);
      const w = view(backend, values[i]!);
      const m = view(backend, firsts[i]!);
      const v = view(backend, seconds[i]!);
      const g = view(backend, gradient);
      const k = [beta1, beta2, oneMinusBeta1, oneMinusBeta2, oneMinusAccBeta1, oneMinusAccBeta2, epsilon, negativeRate] as const;
      // SIMD over whole vectors of four, the JS pass over the rest.
      const vectors = simd === undefined ? 0 : next.length & ~3;
      if (vectors > 0) simd!.adamStep(next.byteOffset, w.byteOffset, m.byteOffset, v.byteOffset, g.byteOffset, vectors, ...k);
      if (vectors < next.length) adamPass(next.subarray(vectors), w.subarray(vectors), m.subarray(vectors), v.subarray(vectors), g.subarray(vectors), [...k]);
      commit(backend, values[i]!, out);
    }
    view(backend, self.accBeta1)[0] = accBeta1Now * beta1;
    view(backend, self.accBeta2)[0] = accBeta2Now * beta2;
    this.incrementIterations();
  }
}

/** tfjs's Momentum (optionally Nesterov); on wasm, one pass per small variable. */
export class FusedMomentumOptimizer extends tf.MomentumOptimizer {
  override applyGradients(variableGradients: VariableGradients): void {
    const backend = activeWasm();
    if (backend === undefined) {
      super.applyGradients(variableGradients);
      return;
    }
    const self = this as unknown as MomentumInternals;
    const list = asList(variableGradients);
    const values = list.map(({ name }) => registered(name));
    values.forEach((value, i) => {
      self.accumulations[i] ??= zeroSlot(`${list[i]!.name}/momentum`, value);
    });
    const accumulations = values.map((_, i) => self.accumulations[i]!.variable);
    const gradients = list.map((g) => g.tensor ?? undefined);
    if (!fusable(backend, values, accumulations, gradients, values.map((v) => v.size))) {
      super.applyGradients(variableGradients);
      return;
    }
    const momentum = f32(self.momentum);
    const negativeRate = f32(-self.learningRate);
    const nesterov = self.useNesterov;
    const simd = simdKernels(backend);
    for (let i = 0; i < values.length; i++) {
      const gradient = gradients[i];
      if (gradient === undefined) continue;
      if (simd === undefined && gradient.size > FUSED_MAX_SIZE) {
        // The stock step's kernels, in its order, on the same float32 scalars.
        tf.tidy(() => {
          const a = tf.add(tf.mul(momentum, accumulations[i]!), gradient);
          const direction = nesterov ? tf.add(gradient, tf.mul(a, momentum)) : a;
          accumulations[i]!.assign(a);
          values[i]!.assign(tf.add(tf.mul(negativeRate, direction), values[i]!));
        });
        continue;
      }
      const out = nextValue(backend, values[i]!);
      const next = view(backend, out);
      const w = view(backend, values[i]!);
      const a = view(backend, accumulations[i]!);
      const g = view(backend, gradient);
      const vectors = simd === undefined ? 0 : next.length & ~3;
      if (vectors > 0) simd!.momentumStep(next.byteOffset, w.byteOffset, a.byteOffset, g.byteOffset, vectors, momentum, negativeRate, nesterov ? 1 : 0);
      if (vectors < next.length) momentumPass(next.subarray(vectors), w.subarray(vectors), a.subarray(vectors), g.subarray(vectors), momentum, negativeRate, nesterov);
      commit(backend, values[i]!, out);
    }
    this.incrementIterations();
  }
}
