/**
 * Sum over leading axes on wasm, e.g. a bias gradient: dy [B, H, W, C] summed over (B, H, W).
 * The backend's Sum first transposes the reduced axes innermost (a full copy of dy), then sums;
 * on [64,26,26,32] that took 12 ms. Channels are innermost, so one pass accumulating each row
 * into C running sums (float64) reads dy once, in order. Any other reduction goes to the
 * backend's own Sum.
 */
import * as tf from '@tensorflow/tfjs';
import { WASM, asWasmBackend, heapF32, input, runKernel } from './wasm-kernel-context.js';

/** Number of leading axes `axes` reduces when they are exactly 0..k-1 with 0 < k < rank; else 0. */
function leadingCount(axes: number[], rank: number): number {
  const sorted = [...axes].sort((a, b) => a - b);
  if (sorted.length === 0 || sorted.length >= rank) return 0;
  return sorted.every((a, i) => a === i) ? sorted.length : 0;
}

function sum({ inputs, backend: anyBackend, attrs }: Parameters<tf.KernelConfig['kernelFunc']>[0]): tf.TensorInfo {
  const backend = asWasmBackend(anyBackend);
  const x = input(inputs, 'x', 'Sum');
  const { axis, keepDims } = attrs as unknown as tf.SumAttrs;
  const axes = tf.util.parseAxisParam(axis, x.shape);
  const k = x.dtype === 'float32' ? leadingCount(axes, x.shape.length) : 0;
  if (k === 0) return runKernel('Sum', backend, inputs, attrs);
  const kept = x.shape.slice(k);
  const inner = tf.util.sizeFromShape(kept);
  const outer = tf.util.sizeFromShape(x.shape.slice(0, k));
  const outInfo = backend.makeOutput(keepDims ? [...x.shape.slice(0, k).map(() => 1), ...kept] : kept, 'float32');
  const out = heapF32(backend, outInfo);
  const xs = heapF32(backend, x);
  const acc = new Float64Array(inner);
  // Four rows per pass: a quarter of the loads and stores of the running sums.
  let p = 0;
  for (; p + 4 <= outer; p += 4) {
    const r0 = p * inner;
    const r1 = r0 + inner;
    const r2 = r1 + inner;
    const r3 = r2 + inner;
    for (let c = 0; c < inner; c++) acc[c] = acc[c]! + ((xs[r0 + c]! + xs[r1 + c]!) + (xs[r2 + c]! + xs[r3 + c]!));
  }
  for (; p < outer; p++) {
    const r = p * inner;
    for (let c = 0; c < inner; c++) acc[c] = acc[c]! + xs[r + c]!;
  }
  out.set(acc);
  return outInfo;
}

export const sumConfig: tf.KernelConfig = {
  kernelName: 'Sum',
  backendName: WASM,
  kernelFunc: sum,
};
