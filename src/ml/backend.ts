/**
 * Picks and initialises the tfjs backend. Order for 'auto': native TensorFlow
 * (@tensorflow/tfjs-node-gpu, then @tensorflow/tfjs-node, when installed), then wasm with this
 * project's kernels, then the pure-JS cpu backend. Each backend is initialised once per process;
 * calling again only re-activates it.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmKernels } from './kernels/register-wasm-kernels.js';
import { prepareSimdKernels } from './kernels/simd/simd-kernels.js';
import { shortSpinThreadedBinary, wasmPathsWith } from './wasm-pool-spin.js';
import { withWasmThreads } from './wasm-threads.js';

export type BackendPreference = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

export interface BackendOptions {
  /**
   * XNNPACK threads on wasm. Defaults to 2 (capped at the machine's core count); 1 uses the
   * single-threaded SIMD binary. Only the first wasm initialisation in a process decides.
   */
  wasmThreads?: number;
  /**
   * How long XNNPACK's idle pool threads spin before they sleep, with threads: 'short' (the
   * default, wasm-pool-spin.ts) or 'stock' (pthreadpool's own 1,000,000 iterations).
   */
  wasmPoolSpin?: 'short' | 'stock';
}

const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

const ready = new Map<string, Promise<boolean>>();
let resolvedAuto: Promise<string> | undefined;
let wasmThreads = 0;
let wasmBinary: string | undefined;
let initialised = false;

/** The tfjs backend in use once `initBackend` has succeeded in this process, else undefined. */
export function activeBackend(): string | undefined {
  return initialised ? tf.getBackend() : undefined;
}

/** The path of the patched threaded wasm binary the backend was given (wasm-pool-spin.ts); undefined for the stock binaries. */
export function wasmBinaryInUse(): string | undefined {
  return wasmBinary;
}

/** Threads the wasm backend runs XNNPACK with (0 until wasm is initialised). */
export function wasmThreadsInUse(): number {
  return wasmThreads;
}

async function importIfInstalled(name: string): Promise<boolean> {
  try {
    await import(name);
    return true;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return false;
    throw error;
  }
}

async function initTensorflow(): Promise<boolean> {
  for (const name of NATIVE_PACKAGES) {
    if (await importIfInstalled(name)) return tf.setBackend('tensorflow');
  }
  return false;
}

async function initWasm(options: BackendOptions): Promise<boolean> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const { availableParallelism } = await import('node:os');
  const requested = options.wasmThreads ?? 2;
  if (!Number.isInteger(requested) || requested < 1) {
    throw new Error(`wasmThreads must be an integer >= 1, got ${requested}`);
  }
  const threads = Math.min(requested, availableParallelism());
  let ok = false;
  if (threads > 1) {
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    wasm.setThreadsCount(threads);
    // XNNPACK's pool threads sleep soon after a kernel instead of spinning for milliseconds on
    // the core our SIMD helpers need (wasm-pool-spin.ts); the stock binary where that cannot be made.
    const threaded = options.wasmPoolSpin === 'stock' ? undefined : await shortSpinThreadedBinary();
    if (threaded !== undefined) {
      wasmBinary = threaded;
      wasm.setWasmPaths(wasmPathsWith(threaded));
    }
    ok = await withWasmThreads(threads, () => tf.setBackend('wasm')).catch(() => false);
  }
  if (!ok) {
    // The threaded binary failed to start (or was not asked for): the SIMD binary needs no workers.
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    wasm.setThreadsCount(1);
    wasmBinary = undefined;
    ok = await tf.setBackend('wasm');
  }
  if (!ok) return false;
  await tf.ready();
  wasmThreads = wasm.getThreadsCount();
  // SIMD kernels first: the project kernels use them where they built, their JS loops otherwise.
  // With threads, helpers share the kernels' work as XNNPACK's pool shares its own.
  await prepareSimdKernels(tf.backend() as BackendWasm, wasmThreads - 1);
  registerWasmKernels();
  return true;
}

function initOnce(name: 'tensorflow' | 'wasm' | 'cpu', options: BackendOptions): Promise<boolean> {
  let pending = ready.get(name);
  if (pending === undefined) {
    pending = name === 'tensorflow' ? initTensorflow()
      : name === 'wasm' ? initWasm(options)
        : tf.setBackend('cpu');
    ready.set(name, pending);
  }
  return pending.then(async (ok) => {
    if (ok && tf.getBackend() !== name) await tf.setBackend(name);
    return ok;
  });
}

async function resolveAuto(options: BackendOptions): Promise<string> {
  for (const name of ['tensorflow', 'wasm', 'cpu'] as const) {
    if (await initOnce(name, options).catch(() => false)) return name;
  }
  throw new Error('no tfjs backend could be initialised (tried tensorflow, wasm, cpu)');
}

/**
 * Makes `preferred` the active tfjs backend (initialising it on first use) and returns the name
 * of the backend in use. 'auto' resolves once per process to the best that loads.
 */
export async function initBackend(preferred: BackendPreference = 'auto', options: BackendOptions = {}): Promise<string> {
  if (preferred === 'auto') {
    resolvedAuto ??= resolveAuto(options);
    const name = await resolvedAuto;
    if (tf.getBackend() !== name) await tf.setBackend(name);
    initialised = true;
    return name;
  }
  if (!(await initOnce(preferred, options))) {
    const hint = preferred === 'tensorflow' ? ` (install ${NATIVE_PACKAGES.join(' or ')})` : '';
    throw new Error(`backend '${preferred}' could not be initialised${hint}`);
  }
  initialised = true;
  return preferred;
}
