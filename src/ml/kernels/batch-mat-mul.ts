/**
 * BatchMatMul for the wasm backend with fast transposed products.
 *
 * The backend sends only the plain case (no transpose, batch 1) to XNNPACK's fully-connected
 * operator; any transposeA/transposeB falls back to a scalar blocked loop. Dense-layer
 * gradients are exactly those transposed products, and with SIMD kernels they run as ours:
 * dx = dy W^T (transposeB) runs as row dot products (simd/wat.ts `rowDots`), no transpose, no
 * packing: MobileNetV3-Small's head [32,1024] x [576,1024]^T 3.7 -> 1.3 ms, its squeeze-excite
 * [32,576] x [144,576]^T 0.52 -> 0.19 ms, one thread or two. Otherwise (dW = x^T dy) the operand
 * is transposed explicitly (a memory pass) and the plain product handed back to the backend;
 * as row dots or as the pointwise filter-gradient pass that product ([32,576]^T x [32,1024])
 * was no faster, bound by writing its large output.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { CallBatch } from './simd/simd-calls.js';
import { backendMemory, simdKernels } from './simd/simd-kernels.js';
import {
  WASM, asWasmBackend, dispose, heapF32, input, runKernel, viewAs,
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

/**
 * a b^T (batch 1, float32; a [m, k], b [n, k], k and n in fours) as SIMD row dots, shared with
 * helper threads by slices of b's rows; undefined where it does not apply.
 */
function rowDotsProduct(backend: BackendWasm, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo | undefined {
  const simd = simdKernels(backend);
  const [m, k] = a.shape.slice(-2) as [number, number];
  const [n, bk] = b.shape.slice(-2) as [number, number];
  if (simd === undefined || k % 4 !== 0 || n % 4 !== 0 || bk !== k) return undefined;
  const out = backend.makeOutput([...a.shape.slice(0, -2), m, n], 'float32');
  const outAt = heapF32(backend, out).byteOffset;
  const aAt = heapF32(backend, a).byteOffset;
  const bAt = heapF32(backend, b).byteOffset;
  const batch = new CallBatch(simd, backendMemory(backend)!);
  // b's rows in blocks of about 16 KB that stay in L1 while a's rows pass (4 rows for long ones).
  const block = Math.max(4, 4 * Math.floor(4096 / (4 * k)));
  const slice = 4 * Math.ceil(n / (4 * batch.threadsFor(m * n * k)));
  for (let i0 = 0; i0 < n; i0 += slice) {
    const rows = Math.min(slice, n - i0);
    batch.add('rowDots', i0, m * rows * k, aAt, bAt + 4 * i0 * k, outAt + 4 * i0, m, rows, k, n, block);
  }
  batch.run();
  return out;
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
  const ours = transposeB && !transposeA ? rowDotsProduct(backend, a, b) : undefined;
  if (ours !== undefined) return ours;
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
