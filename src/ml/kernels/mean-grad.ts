/**
 * Gradient of Mean without the full-size ones tensor. tfjs-core's gradient computes
 * (reshape(dy) * ones(x.shape)) / n: a Fill, a Multiply and a Div the size of x, for every Mean
 * in the graph (MobileNetV3-Small has 78 a step: two per batch-norm layer's moments, one per
 * squeeze-excite pool). This one divides dy first (the same float32 values, as dy * 1 is dy) and
 * broadcasts it: on wasm, for consecutive axes before the last (`MeanGradProject`), one pass
 * writing x's shape; elsewhere tf.broadcastTo.
 */
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { blockShape } from './sum-leading.js';
import { WASM, asWasmBackend, heapF32, input } from './wasm-kernel-context.js';

export const MEAN_GRAD_KERNEL = 'MeanGradProject';

interface MeanGradAttrs {
  xShape: number[];
  outer: number;
  reduced: number;
  inner: number;
}

/** dx[o, r, i] = dy[o, i] / reduced, x viewed as [outer, reduced, inner]. */
function meanGradWasm({ inputs, backend: anyBackend, attrs }: Parameters<tf.KernelConfig['kernelFunc']>[0]): tf.TensorInfo {
  const backend: BackendWasm = asWasmBackend(anyBackend);
  const dyInfo = input(inputs, 'dy', MEAN_GRAD_KERNEL);
  const { xShape, outer, reduced, inner } = attrs as unknown as MeanGradAttrs;
  const outInfo = backend.makeOutput(xShape, 'float32');
  const dy = heapF32(backend, dyInfo);
  const dx = heapF32(backend, outInfo);
  const row = new Float32Array(inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) row[i] = dy[o * inner + i]! / reduced;
    const base = o * reduced * inner;
    for (let r = 0; r < reduced; r++) dx.set(row, base + r * inner);
  }
  return outInfo;
}

export const meanGradWasmConfig: tf.KernelConfig = {
  kernelName: MEAN_GRAD_KERNEL,
  backendName: WASM,
  kernelFunc: meanGradWasm,
};

export const meanGradConfig: tf.GradConfig = {
  kernelName: 'Mean',
  inputsToSave: ['x'],
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const g = Array.isArray(dy) ? dy[0]! : dy;
    const [x] = saved as [tf.Tensor];
    const axes = tf.util.parseAxisParam((attrs as unknown as tf.MeanAttrs).axis, x.shape);
    const reduceSize = axes.reduce((n, a) => n * (x.shape[a] ?? 1), 1);
    const expanded = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const b = blockShape(axes, x.shape);
    const fused = b !== undefined && g.dtype === 'float32' && tf.getBackend() === WASM && tf.getKernel(MEAN_GRAD_KERNEL, WASM) !== undefined;
    return {
      x: () => (fused
        ? (tf.engine().runKernel(MEAN_GRAD_KERNEL, { dy: g }, { xShape: x.shape, ...b } as unknown as tf.NamedAttrMap) as tf.Tensor)
        : tf.broadcastTo(tf.div(tf.reshape(g, expanded), reduceSize), x.shape)),
    };
  },
};

/** Installs the Mean gradient (all backends) and its wasm kernel. */
export function installMeanGradient(): void {
  tf.registerGradient(meanGradConfig);
  if (tf.getKernel(MEAN_GRAD_KERNEL, WASM) === undefined) tf.registerKernel(meanGradWasmConfig);
}
