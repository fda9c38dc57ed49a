/**
 * This project's WebAssembly SIMD kernels (`wat.ts`), compiled once per process with wabt and
 * instantiated on the tfjs wasm backend's memory. A JS loop over a tensor runs scalar code with
 * a branch per element where the data decides (an activation's kink, a pooling window's
 * maximum), and those branches mispredict on real activations: hard-swish over [32,48,48,16]
 * took 17-33 ms in JS and 1 ms here. The kernels that use these fall back to their JS loops
 * where `simdKernels` answers undefined (wasm SIMD unavailable, or the module failed to build:
 * the reason is in `simdUnavailableReason`).
 */
import type * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { compileWat, Wasm, type WasmMemory } from '../../../core/compile-wat.js';
import { startSimdHelpers } from './simd-calls.js';
import { kernelsWat } from './wat.js';

export type { WasmMemory } from '../../../core/compile-wat.js';

export interface SimdKernels {
  hardSwish(x: number, y: number, n: number): void;
  hardSigmoid(x: number, y: number, n: number): void;
  hardSwishGrad(dy: number, x: number, dx: number, n: number): void;
  hardSigmoidGrad(dy: number, x: number, dx: number, n: number): void;
  maxPoolGrad2x2Row(x00: number, rowBytes: number, dy: number, dx00: number, outWidth: number, c: number): void;
  affineRows(x: number, y: number, a: number, b: number, rows: number, c: number): void;
  sumRowsInto(x: number, acc: number, rows: number, c: number): void;
  sumAndSquaresInto(x: number, acc: number, sq: number, rows: number, c: number): void;
  storeScaled(acc: number, out: number, c: number, scale: number): void;
  batchNormGradRows(dy: number, x: number, dx: number, m: number, k: number, accDy: number, accXm: number, rows: number, c: number): void;
  batchNormGradSums(dy: number, x: number, m: number, accDy: number, accXm: number, rows: number, c: number): void;
  affine2Rows(dy: number, x: number, dx: number, k: number, p: number, q: number, rows: number, c: number): void;
  depthwiseFilterTap(x: number, dy: number, count: number, xStep: number, sums: number, c: number, rows: number, xRowStep: number, dyRowStep: number): void;
  pointwiseFilterGrad(x: number, dy: number, acc: number, pixels: number, ci: number, co: number, xStride: number, dStride: number): void;
  rowDots(a: number, b: number, out: number, m: number, n: number, k: number, outStride: number, block: number): void;
  tapInputRows(dy: number, wt: number, dx: number, count: number, rows: number, co: number, ci: number, dyRowStep: number, dxRowStep: number): void;
  reluGrad(dy: number, x: number, dx: number, n: number): void;
  addRows(x: number, b: number, y: number, rows: number, c: number): void;
  im2colRun(x: number, cols: number, count: number, xStep: number, segLen: number, segs: number, segStep: number, stride: number): void;
  depthwiseInputRow(dy: number, w: number, dx: number, outWidth: number, inWidth: number, taps: number, stride: number, left: number, c: number): void;
  adamStep(next: number, w: number, m: number, v: number, g: number, n: number, beta1: number, beta2: number, oneMinusBeta1: number,
    oneMinusBeta2: number, oneMinusAccBeta1: number, oneMinusAccBeta2: number, epsilon: number, negativeRate: number): void;
  momentumStep(next: number, w: number, a: number, g: number, n: number, momentum: number, negativeRate: number, nesterov: number): void;
}

const compiled = new Map<boolean, object>();
const instances = new WeakMap<WasmMemory, SimdKernels>();
let failure: string | undefined;

/** Why the SIMD kernels are not in use, once `prepareSimdKernels` has failed; else undefined. */
export function simdUnavailableReason(): string | undefined {
  return failure;
}

/** The backend's WebAssembly.Memory: `wasmMemory` in the threaded build, the module's exported `memory` in the other. */
export function backendMemory(backend: BackendWasm): WasmMemory | undefined {
  const module = backend.wasm as unknown as { wasmMemory?: unknown; asm?: { memory?: unknown } };
  const memory = module.wasmMemory ?? module.asm?.memory;
  return memory instanceof Wasm.Memory ? memory : undefined;
}

/**
 * Loads wabt and compiles the module for the backend's memory (shared or not), and on a shared
 * memory starts `helperThreads` threads that share call batches (simd-calls.ts). Call once the
 * backend is initialised; `simdKernels` is synchronous (kernels run synchronously) and answers
 * undefined until this has succeeded.
 */
export async function prepareSimdKernels(backend: BackendWasm, helperThreads = 0): Promise<boolean> {
  const memory = backendMemory(backend);
  if (memory === undefined) {
    failure = 'the tfjs wasm backend does not expose its memory (wasm.wasmMemory or wasm.asm.memory)';
    return false;
  }
  const shared = isShared(memory);
  if (!await compileFor(shared)) return false;
  if (shared && helperThreads > 0) {
    // Without helpers the kernels still run, on the calling thread alone.
    await startSimdHelpers(compiled.get(true)!, memory, helperThreads).catch((err: unknown) => {
      process.emitWarning(`SIMD helper threads did not start (${err instanceof Error ? err.message : String(err)}); the project kernels run on one thread`, { code: 'DV_SIMD_HELPERS' });
    });
  }
  return true;
}

function isShared(memory: WasmMemory): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && memory.buffer instanceof SharedArrayBuffer;
}

/** Compiles the module for a shared or an unshared memory, once; false (and the reason kept) on failure. */
export async function compileFor(shared: boolean): Promise<boolean> {
  if (compiled.has(shared)) return true;
  try {
    compiled.set(shared, await compileWat('durable-vision-kernels.wat', kernelsWat(shared), { simd: true, threads: true }));
    failure = undefined;
    return true;
  } catch (err) {
    failure = `the SIMD kernels did not build: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`;
    // Training still works (the JS loops), only slower: say so once, on stderr.
    process.emitWarning(`${failure}; the wasm backend's project kernels run their JS loops instead`, { code: 'DV_SIMD_KERNELS' });
    return false;
  }
}

/** The kernels on `memory` (a WebAssembly.Memory), once compiled for its kind; else undefined. */
export function simdKernelsOn(memory: WasmMemory): SimdKernels | undefined {
  const existing = instances.get(memory);
  if (existing !== undefined) return existing;
  const module = compiled.get(isShared(memory));
  if (module === undefined) return undefined;
  const instance = new Wasm.Instance(module, { env: { memory } });
  const kernels = instance.exports as unknown as SimdKernels;
  instances.set(memory, kernels);
  return kernels;
}

/** The kernels on `backend`'s memory, or undefined (not prepared, or unavailable). */
export function simdKernels(backend: BackendWasm): SimdKernels | undefined {
  const memory = backendMemory(backend);
  return memory === undefined ? undefined : simdKernelsOn(memory);
}

/**
 * out[r, j] = x[r, j] * scale[j] + shift[j] over rows of c = scale.length channels, by
 * `affineRows` with the factors copied to a scratch tensor on the heap. c must be a multiple of 4.
 */
export function channelAffine(backend: BackendWasm, simd: SimdKernels, x: tf.TensorInfo, out: tf.TensorInfo, scale: Float32Array, shift: Float32Array): void {
  const c = scale.length;
  const factors = backend.makeOutput([2 * c], 'float32');
  const f = backend.typedArrayFromHeap(factors) as Float32Array;
  f.set(scale);
  f.set(shift, c);
  const xs = backend.typedArrayFromHeap(x);
  simd.affineRows(xs.byteOffset, backend.typedArrayFromHeap(out).byteOffset, f.byteOffset, f.byteOffset + 4 * c, xs.length / c, c);
  backend.disposeData(factors.dataId);
}
