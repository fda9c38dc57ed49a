/**
 * Shared plumbing for kernels this project adds to the tfjs wasm backend. Our kernels either
 * run tight typed-array loops directly on the wasm heap or re-express the gradient as one of
 * the backend's own XNNPACK-backed kernels (Conv2D, BatchMatMul, Transpose), so the heavy
 * arithmetic stays in SIMD code.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

export const WASM = 'wasm';

type KernelFunc = tf.KernelConfig['kernelFunc'];

/**
 * Kernel functions as the wasm backend registered them, captured before we override any of
 * them, so an override can still delegate (e.g. our BatchMatMul hands untransposed work back).
 */
const originals = new Map<string, KernelFunc>();

export function asWasmBackend(backend: unknown): BackendWasm {
  const candidate = backend as Partial<BackendWasm> | null;
  if (candidate === null || typeof candidate.makeOutput !== 'function' || typeof candidate.typedArrayFromHeap !== 'function') {
    throw new Error('kernel called with a backend that is not the wasm backend (expected BackendWasm)');
  }
  return candidate as BackendWasm;
}

/** Remembers the backend's own implementation of `name` (once; later overrides do not replace it). */
export function captureOriginal(name: string): void {
  if (originals.has(name)) return;
  const config = tf.getKernel(name, WASM);
  if (config !== undefined) originals.set(name, config.kernelFunc);
}

/** Runs a wasm kernel by name: the backend's original if we overrode it, else the registered one. */
export function runKernel(
  name: string,
  backend: BackendWasm,
  inputs: tf.NamedTensorInfoMap,
  attrs: tf.NamedAttrMap = {},
): tf.TensorInfo {
  const fn = originals.get(name) ?? tf.getKernel(name, WASM)?.kernelFunc;
  if (fn === undefined) throw new Error(`wasm kernel ${name} is not registered (needed by a project kernel)`);
  const out = fn({ inputs, backend, attrs });
  if (Array.isArray(out)) throw new Error(`wasm kernel ${name} returned ${out.length} outputs, expected 1`);
  return out;
}

/** A float32 view of a tensor on the wasm heap. Views die when the heap grows: re-take after allocating. */
export function heapF32(backend: BackendWasm, info: tf.TensorInfo): Float32Array {
  const view = backend.typedArrayFromHeap(info);
  if (!(view instanceof Float32Array)) {
    throw new Error(`expected a float32 tensor on the wasm heap, got dtype ${info.dtype}`);
  }
  return view;
}

/** The same data under another shape (no copy): what the backend's Reshape does for contiguous data. */
export function viewAs(info: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return { dataId: info.dataId, shape, dtype: info.dtype };
}

export function dispose(backend: BackendWasm, ...infos: tf.TensorInfo[]): void {
  for (const info of infos) backend.disposeData(info.dataId);
}

export function requireNhwc(kernel: string, dataFormat: string | undefined): void {
  if (dataFormat !== undefined && dataFormat !== 'NHWC' && dataFormat !== 'channelsLast') {
    throw new Error(`${kernel} on wasm supports dataFormat NHWC only, got ${dataFormat}`);
  }
}

export function requireFloat32(kernel: string, ...infos: tf.TensorInfo[]): void {
  for (const info of infos) {
    if (info.dtype !== 'float32') throw new Error(`${kernel} on wasm expects float32 inputs, got ${info.dtype}`);
  }
}

export function input(inputs: tf.NamedTensorInfoMap, name: string, kernel: string): tf.TensorInfo {
  const info = inputs[name];
  if (info === undefined) throw new Error(`${kernel}: missing input '${name}'`);
  return info;
}
