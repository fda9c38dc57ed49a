/**
 * Sum and Mean over a run of consecutive axes that leaves the last axis, on wasm: a bias
 * gradient (dy [B, H, W, C] summed over B, H, W), batch-norm moments (the mean over B, H, W), a
 * squeeze-excite or global average pool (the mean over H, W). The backend first transposes the
 * reduced axes innermost (a full copy of the tensor), then reduces; on [64,26,26,32] that took
 * 12 ms. Channels are innermost, so one pass accumulating each row into running sums (float64)
 * reads the tensor once, in order (SIMD code, simd/wat.ts, when the channels come in fours).
 * Any other reduction goes to the backend's own kernel.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { simdKernels } from './simd/simd-kernels.js';
import { WASM, asWasmBackend, dispose, heapF32, input, runKernel } from './wasm-kernel-context.js';

/**
 * The tensor as [outer, reduced, inner] when `axes` are consecutive and leave the last axis
 * unreduced; undefined otherwise.
 */
export function blockShape(axes: number[], shape: readonly number[]): { outer: number; reduced: number; inner: number } | undefined {
  const sorted = [...axes].sort((a, b) => a - b);
  const first = sorted[0];
  const last = sorted[sorted.length - 1];
  if (first === undefined || last === undefined || last >= shape.length - 1) return undefined;
  if (!sorted.every((a, i) => a === first + i)) return undefined;
  const size = (from: number, to: number): number => tf.util.sizeFromShape(shape.slice(from, to));
  return { outer: size(0, first), reduced: size(first, last + 1), inner: size(last + 1, shape.length) };
}

let rowSums = new Float64Array(0);

/** Sums `reduced` rows of `inner` values for each of `outer` blocks of `xs` into `out`, times `scale`. */
function reduceRows(xs: Float32Array, out: Float32Array, outer: number, reduced: number, inner: number, scale: number): void {
  if (rowSums.length < inner) rowSums = new Float64Array(inner);
  const acc = rowSums;
  for (let o = 0; o < outer; o++) {
    acc.fill(0, 0, inner);
    const base = o * reduced * inner;
    // Four rows per pass: a quarter of the loads and stores of the running sums.
    let p = 0;
    for (; p + 4 <= reduced; p += 4) {
      const r0 = base + p * inner;
      const r1 = r0 + inner;
      const r2 = r1 + inner;
      const r3 = r2 + inner;
      for (let c = 0; c < inner; c++) acc[c] = acc[c]! + ((xs[r0 + c]! + xs[r1 + c]!) + (xs[r2 + c]! + xs[r3 + c]!));
    }
    for (; p < reduced; p++) {
      const r = base + p * inner;
      for (let c = 0; c < inner; c++) acc[c] = acc[c]! + xs[r + c]!;
    }
    const at = o * inner;
    if (scale === 1) for (let c = 0; c < inner; c++) out[at + c] = acc[c]!;
    else for (let c = 0; c < inner; c++) out[at + c] = acc[c]! * scale;
  }
}

/** `reduceRows` as SIMD code (the same float64 sums in the same order); false where it is unavailable. */
function reduceRowsSimd(backend: BackendWasm, x: tf.TensorInfo, out: tf.TensorInfo, outer: number, reduced: number, inner: number, scale: number): boolean {
  const simd = simdKernels(backend);
  if (simd === undefined) return false;
  // float64 running sums: inner * 8 bytes, as a float32 tensor of twice the length.
  const accInfo = backend.makeOutput([2 * inner], 'float32');
  const acc = heapF32(backend, accInfo);
  const xAt = heapF32(backend, x).byteOffset;
  const outAt = heapF32(backend, out).byteOffset;
  for (let o = 0; o < outer; o++) {
    acc.fill(0);
    simd.sumRowsInto(xAt + o * reduced * inner * 4, acc.byteOffset, reduced, inner);
    simd.storeScaled(acc.byteOffset, outAt + o * inner * 4, inner, scale);
  }
  dispose(backend, accInfo);
  return true;
}

function reduceKernel(kernelName: 'Sum' | 'Mean'): tf.KernelConfig['kernelFunc'] {
  return ({ inputs, backend: anyBackend, attrs }) => {
    const backend = asWasmBackend(anyBackend);
    const x = input(inputs, 'x', kernelName);
    const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
    const axes = tf.util.parseAxisParam(axis, x.shape);
    const block = x.dtype === 'float32' ? blockShape(axes, x.shape) : undefined;
    if (!block) return runKernel(kernelName, backend, inputs, attrs);
    const outShape = keepDims ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
    const outInfo = backend.makeOutput(outShape, 'float32');
    const scale = kernelName === 'Mean' ? 1 / block.reduced : 1;
    if (block.inner % 4 === 0 && reduceRowsSimd(backend, x, outInfo, block.outer, block.reduced, block.inner, scale)) return outInfo;
    reduceRows(heapF32(backend, x), heapF32(backend, outInfo), block.outer, block.reduced, block.inner, scale);
    return outInfo;
  };
}

export const sumConfig: tf.KernelConfig = {
  kernelName: 'Sum',
  backendName: WASM,
  kernelFunc: reduceKernel('Sum'),
};

export const meanConfig: tf.KernelConfig = {
  kernelName: 'Mean',
  backendName: WASM,
  kernelFunc: reduceKernel('Mean'),
};
