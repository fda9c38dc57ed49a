/**
 * BatchMatMul for the wasm backend that keeps transposed products on XNNPACK.
 *
 * The backend sends only the plain case (no transpose, batch 1) to XNNPACK's fully-connected
 * operator; any transposeA/transposeB falls back to a scalar blocked loop. Dense-layer
 * gradients are exactly those transposed products (dW = x^T dy, dx = dy W^T), so we transpose
 * the operand explicitly (a cheap memory pass) and hand the plain product back to the backend.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  WASM, asWasmBackend, dispose, input, runKernel, viewAs,
} from './wasm-kernel-context.js';

function batchOf(shape: number[]): number {
  let n = 1;
  for (let i = 0; i < shape.length - 2; i++) n *= shape[i]!;
  return n;
}

/** The transpose of a batch-1 matrix as a new heap tensor, same rank, last two dims swapped. */
function transposed(backend: BackendWasm, m: tf.TensorInfo): tf.TensorInfo {
  const rows = m.shape[m.shape.length - 2]!;
  const cols = m.shape[m.shape.length - 1]!;
  const t = runKernel('Transpose', backend, { x: viewAs(m, [rows, cols]) }, { perm: [1, 0] });
  return viewAs(t, [...m.shape.slice(0, -2), cols, rows]);
}

function batchMatMul({ inputs, backend: anyBackend, attrs }: Parameters<tf.KernelConfig['kernelFunc']>[0]): tf.TensorInfo {
  const kernel = 'BatchMatMul';
  const backend = asWasmBackend(anyBackend);
  const a = input(inputs, 'a', kernel);
  const b = input(inputs, 'b', kernel);
  const { transposeA, transposeB } = attrs as unknown as tf.BatchMatMulAttrs;
  const plain = !transposeA && !transposeB;
  const single = batchOf(a.shape) === 1 && batchOf(b.shape) === 1;
  if (plain || !single || a.dtype !== 'float32' || b.dtype !== 'float32') {
    return runKernel(kernel, backend, { a, b }, { transposeA, transposeB });
  }
  const aPlain = transposeA ? transposed(backend, a) : a;
  const bPlain = transposeB ? transposed(backend, b) : b;
  const out = runKernel(kernel, backend, { a: aPlain, b: bPlain }, { transposeA: false, transposeB: false });
  if (aPlain !== a) dispose(backend, aPlain);
  if (bPlain !== b) dispose(backend, bPlain);
  return out;
}

export const batchMatMulConfig: tf.KernelConfig = {
  kernelName: 'BatchMatMul',
  backendName: WASM,
  kernelFunc: batchMatMul,
};
