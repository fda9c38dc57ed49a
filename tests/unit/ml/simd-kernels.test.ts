import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/ml/backend.js';
import { CallBatch, deferredCallBatches, setMaxDeferredBacklog, simdHelperCount, splitCallBatches } from '../../../src/ml/kernels/simd/simd-calls.js';
import { setDeferWork } from '../../../src/ml/kernels/deferred-work.js';
import { heapF32 } from '../../../src/ml/kernels/wasm-kernel-context.js';
import { backendMemory, compileFor, simdKernels, simdKernelsOn, simdUnavailableReason, type SimdKernels, type WasmMemory } from '../../../src/ml/kernels/simd/simd-kernels.js';
import { seededUniform } from '../../../src/ml/seeded-random.js';
import { splitFilterGradients } from './split-filter-gradients.js';

const Wasm = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory } }).WebAssembly;

/** A memory of its own (4 MiB) with the kernels on it, and a bump allocator of float arrays. */
async function kernelsOnFreshMemory(shared: boolean): Promise<{ k: SimdKernels; f32(n: number): Float32Array; f64(n: number): Float64Array }> {
  expect(await compileFor(shared)).toBe(true);
  const memory = new Wasm.Memory(shared ? { initial: 64, maximum: 64, shared: true } : { initial: 64 });
  const k = simdKernelsOn(memory)!;
  let next = 64;
  const take = (bytes: number): number => {
    const at = next;
    next += Math.ceil(bytes / 16) * 16;
    return at;
  };
  return {
    k,
    f32: (n) => new Float32Array(memory.buffer, take(4 * n), n),
    f64: (n) => new Float64Array(memory.buffer, take(8 * n), n),
  };
}

function values(n: number, seed: number, lo = -8, hi = 8): Float32Array {
  return Float32Array.from(seededUniform(n, seed, lo, hi));
}

function expectSameBits(got: ArrayLike<number>, want: ArrayLike<number>): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!Object.is(got[i], want[i])) expect(`${i}: ${got[i]}`).toBe(`${i}: ${want[i]}`);
  }
}

describe('the SIMD kernels', () => {
  beforeAll(async () => {
    await initBackend('wasm');
  });

  it('build and run on the wasm backend\'s own memory', () => {
    expect(simdUnavailableReason()).toBeUndefined();
    expect(simdKernels(tf.backend() as BackendWasm)).toBeDefined();
  });

  it('run on the single-threaded backend too (its memory is the module\'s own export)', () => {
    const script = fileURLToPath(new URL('./simd-single-thread.ts', import.meta.url));
    const runTs = fileURLToPath(new URL('../../../bin/run-ts.mjs', import.meta.url));
    const child = spawnSync(process.execPath, [runTs, script], { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 });
    expect(child.status, child.stderr.slice(-2000)).toBe(0);
    const out = JSON.parse(child.stdout.trim().split('\n').at(-1)!) as { threads: number; simd: boolean; reason: string | null; hardSwish: number[]; filterGradients: number[][] };
    expect(out).toMatchObject({ threads: 1, simd: true, reason: null });
    // Four values through SIMD, the fifth through the JS tail (JSON carries -0 as 0).
    expect(out.hardSwish).toEqual([0, -1 / 3, 0, 2 * 5 / 6, 5].map(Math.fround));
    // Here (two threads) a helper thread shares the filter and input gradients' SIMD calls; one thread computes the same bits.
    expect(simdHelperCount(backendMemory(tf.backend() as BackendWasm)!)).toBe(1);
    const deferring = setDeferWork(false);
    const before = splitCallBatches();
    const here = splitFilterGradients();
    setDeferWork(deferring);
    expect(splitCallBatches() - before).toBe(here.length);
    here.forEach((g, i) => expectSameBits(g, Float32Array.from(out.filterGradients[i]!)));
    // The filter gradients deferred to the worker thread (Linux; any size): the same bits again.
    const backlog = setMaxDeferredBacklog(Number.MAX_SAFE_INTEGER);
    const deferredBefore = deferredCallBatches();
    const deferred = splitFilterGradients();
    setMaxDeferredBacklog(backlog);
    if (process.platform === 'linux') expect(deferredCallBatches() - deferredBefore).toBe(2);
    deferred.forEach((g, i) => expectSameBits(g, Float32Array.from(out.filterGradients[i]!)));
  });

  it.each([true, false])('build for a shared memory (threaded backend) and an unshared one (shared=%s)', async (shared) => {
    const { k, f32 } = await kernelsOnFreshMemory(shared);
    const x = f32(8);
    const y = f32(8);
    x.set([-4, -3, -1, 0, 1, 3, 4, NaN]);
    k.hardSwish(x.byteOffset, y.byteOffset, 8);
    expect(Array.from(y.subarray(0, 7))).toEqual([-0, -0, -1 / 3, 0, 4 / 6 * 1, 3, 4].map(Math.fround));
    expect(y[7]).toBeNaN();
  });

  it('a helper thread whose share fails is reported, and the next batch runs whole', () => {
    const backend = tf.backend() as BackendWasm;
    const memory = backendMemory(backend)!;
    const [x, dy, first, second] = [tf.ones([4096, 4]), tf.ones([4096, 8]), tf.zeros([4, 8]), tf.zeros([4, 8])];
    const at = (t: tf.Tensor): number => heapF32(backend, t).byteOffset;
    // Work as the batch counts it, enough to split.
    const work = 40_000_000;
    const broken = new CallBatch(simdKernels(backend)!, memory);
    broken.add('pointwiseFilterGrad', 0, work, at(x), at(dy), at(first), 4096, 4, 8, 4, 8);
    // The second group (the helper's share) reads x far past the end of the memory: a wasm trap there.
    broken.add('pointwiseFilterGrad', 1, work, 0xc0000000, at(dy), at(second), 4096, 4, 8, 4, 8);
    expect(() => broken.run()).toThrow(/SIMD helper\(s\) 0 failed/);
    const batch = new CallBatch(simdKernels(backend)!, memory);
    batch.add('pointwiseFilterGrad', 0, work, at(x), at(dy), at(first), 4096, 4, 8, 4, 8);
    batch.add('pointwiseFilterGrad', 1, work, at(x), at(dy), at(second), 4096, 4, 8, 4, 8);
    const before = splitCallBatches();
    batch.run();
    expect(splitCallBatches()).toBe(before + 1);
    // first ran twice (the failed batch's head, then this one); second once.
    expect(Array.from(heapF32(backend, first))).toEqual(new Array(32).fill(8192));
    expect(Array.from(heapF32(backend, second))).toEqual(new Array(32).fill(4096));
    tf.dispose([x, dy, first, second]);
  });

  it('sums rows in float64 in the JS loop\'s order: acc + ((x0 + x1) + (x2 + x3)), then row by row, bit for bit', async () => {
    const { k, f32, f64 } = await kernelsOnFreshMemory(true);
    const rows = 4 * 9 + 3;
    const c = 12;
    const x = f32(rows * c);
    x.set(values(rows * c, 3, -1e3, 1e3));
    const acc = f64(c);
    const out = f32(c);
    k.sumRowsInto(x.byteOffset, acc.byteOffset, rows, c);
    k.storeScaled(acc.byteOffset, out.byteOffset, c, 1 / rows);
    const want = new Float64Array(c);
    let r = 0;
    for (; r + 4 <= rows; r += 4) for (let j = 0; j < c; j++) want[j] = want[j]! + ((x[r * c + j]! + x[(r + 1) * c + j]!) + (x[(r + 2) * c + j]! + x[(r + 3) * c + j]!));
    for (; r < rows; r++) for (let j = 0; j < c; j++) want[j] = want[j]! + x[r * c + j]!;
    expectSameBits(acc, want);
    expectSameBits(out, Float32Array.from(want, (v) => v * (1 / rows)));
  });

  it('sums rows and their squares in one pass: the sums as sumRowsInto, the squares row by row in float64, bit for bit', async () => {
    const { k, f32, f64 } = await kernelsOnFreshMemory(true);
    const rows = 4 * 7 + 2;
    const c = 8;
    const x = f32(rows * c);
    x.set(values(rows * c, 5, -1e3, 1e3));
    const acc = f64(c);
    const sq = f64(c);
    const reference = f64(c);
    k.sumAndSquaresInto(x.byteOffset, acc.byteOffset, sq.byteOffset, rows, c);
    k.sumRowsInto(x.byteOffset, reference.byteOffset, rows, c);
    expectSameBits(acc, reference);
    const want = new Float64Array(c);
    for (let r = 0; r < rows; r++) for (let j = 0; j < c; j++) want[j] = want[j]! + x[r * c + j]! * x[r * c + j]!;
    expectSameBits(sq, want);
  });

  it('batch norm\'s training gradient passes: the sums as batchNormGradRows adds them, and dx = (dy k + x p) + q, bit for bit', async () => {
    const { k, f32, f64 } = await kernelsOnFreshMemory(true);
    const rows = 4 * 5 + 3;
    const c = 8;
    const dy = f32(rows * c);
    const x = f32(rows * c);
    dy.set(values(rows * c, 8, -2, 2));
    x.set(values(rows * c, 9, -3, 3));
    const m = f32(c);
    m.set(values(c, 10, -1, 1));
    const [accDy, accXm, refDy, refXm] = [f64(c), f64(c), f64(c), f64(c)];
    k.batchNormGradSums(dy.byteOffset, x.byteOffset, m.byteOffset, accDy.byteOffset, accXm.byteOffset, rows, c);
    const scratchDx = f32(rows * c);
    const ones = f32(c);
    ones.fill(1);
    k.batchNormGradRows(dy.byteOffset, x.byteOffset, scratchDx.byteOffset, m.byteOffset, ones.byteOffset, refDy.byteOffset, refXm.byteOffset, rows, c);
    expectSameBits(accDy, refDy);
    expectSameBits(accXm, refXm);
    const [kv, pv, qv] = [f32(c), f32(c), f32(c)];
    kv.set(values(c, 11, -1, 1));
    pv.set(values(c, 12, -1, 1));
    qv.set(values(c, 13, -1, 1));
    const dx = f32(rows * c);
    k.affine2Rows(dy.byteOffset, x.byteOffset, dx.byteOffset, kv.byteOffset, pv.byteOffset, qv.byteOffset, rows, c);
    const f = Math.fround;
    expectSameBits(dx, Float32Array.from(dx, (_, i) => f(f(f(dy[i]! * kv[i % c]!) + f(x[i]! * pv[i % c]!)) + qv[i % c]!)));
  });

  it('a max-pool gradient row sends dy to the first maximum of each window (ties: a, b, c, d), zero elsewhere', async () => {
    const { k, f32 } = await kernelsOnFreshMemory(true);
    const c = 4;
    const outWidth = 3;
    const inWidth = 2 * outWidth;
    const x = f32(2 * inWidth * c);
    const dx = f32(2 * inWidth * c);
    const dy = f32(outWidth * c);
    // Values from a small set, so windows often tie; one NaN.
    x.set(Float32Array.from(seededUniform(x.length, 4, 0, 3), Math.floor));
    x[5] = NaN;
    dy.set(values(dy.length, 5));
    dx.fill(99);
    k.maxPoolGrad2x2Row(x.byteOffset, inWidth * c * 4, dy.byteOffset, dx.byteOffset, outWidth, c);
    const want = new Float32Array(dx.length);
    for (let ow = 0; ow < outWidth; ow++) {
      for (let ch = 0; ch < c; ch++) {
        const at = [0, 1, inWidth, inWidth + 1].map((o) => (2 * ow + o) * c + ch) as [number, number, number, number];
        const [a, b, cc, d] = at.map((i) => x[i]!) as [number, number, number, number];
        const g = dy[ow * c + ch]!;
        if (a >= b && a >= cc && a >= d) want[at[0]] = g;
        else if (b >= cc && b >= d) want[at[1]] = g;
        else if (cc >= d) want[at[2]] = g;
        else want[at[3]] = g;
      }
    }
    expectSameBits(dx, want);
  });

  it('a depthwise filter tap sums each row of x * dy in float32 (even and odd columns apart), the rows in float64, bit for bit', async () => {
    const { k, f32, f64 } = await kernelsOnFreshMemory(true);
    const c = 8;
    const count = 11;
    const stride = 2;
    const rows = 3;
    // Rows of x lie 2 * count * stride * c floats apart (a stride-2 tap), rows of dy count * c + c (a wider image).
    const xRow = 2 * count * stride * c;
    const dyRow = count * c + c;
    const x = f32(rows * xRow);
    const dy = f32(rows * dyRow);
    x.set(values(x.length, 6));
    dy.set(values(dy.length, 7));
    const sums = f64(c);
    sums.fill(0.5);
    k.depthwiseFilterTap(x.byteOffset, dy.byteOffset, count, stride * c * 4, sums.byteOffset, c, rows, xRow * 4, dyRow * 4);
    const f = Math.fround;
    const want = new Float64Array(c).fill(0.5);
    for (let j = 0; j < c; j++) {
      for (let r = 0; r < rows; r++) {
        const part = [0, 0];
        for (let ow = 0; ow < count; ow++) {
          const p = ow & 1;
          part[p] = f(part[p]! + f(x[r * xRow + ow * stride * c + j]! * dy[r * dyRow + ow * c + j]!));
        }
        want[j] = want[j]! + f(part[0]! + part[1]!);
      }
    }
    expectSameBits(sums, want);
  });

  it('a batch-norm gradient pass: dx = dy * k in float32, and the float64 sums of dy and dy * (x - m), bit for bit', async () => {
    const { k, f32, f64 } = await kernelsOnFreshMemory(true);
    const rows = 4 * 5 + 2;
    const c = 8;
    const dy = f32(rows * c);
    const x = f32(rows * c);
    const dx = f32(rows * c);
    const m = f32(c);
    const kk = f32(c);
    dy.set(values(dy.length, 8));
    x.set(values(x.length, 9));
    m.set(values(c, 10));
    kk.set(values(c, 11));
    const accDy = f64(c);
    const accXm = f64(c);
    k.batchNormGradRows(dy.byteOffset, x.byteOffset, dx.byteOffset, m.byteOffset, kk.byteOffset, accDy.byteOffset, accXm.byteOffset, rows, c);
    const wantDy = new Float64Array(c);
    const wantXm = new Float64Array(c);
    let r = 0;
    const t = (row: number, j: number): number => dy[row * c + j]! * (x[row * c + j]! - m[j]!);
    for (; r + 4 <= rows; r += 4) {
      for (let j = 0; j < c; j++) {
        wantDy[j] = wantDy[j]! + ((dy[r * c + j]! + dy[(r + 1) * c + j]!) + (dy[(r + 2) * c + j]! + dy[(r + 3) * c + j]!));
        wantXm[j] = wantXm[j]! + ((t(r, j) + t(r + 1, j)) + (t(r + 2, j) + t(r + 3, j)));
      }
    }
    for (; r < rows; r++) {
      for (let j = 0; j < c; j++) {
        wantDy[j] = wantDy[j]! + dy[r * c + j]!;
        wantXm[j] = wantXm[j]! + t(r, j);
      }
    }
    expectSameBits(accDy, wantDy);
    expectSameBits(accXm, wantXm);
    expectSameBits(dx, Float32Array.from(dy, (g, i) => g * kk[i % c]!));
  });
});
