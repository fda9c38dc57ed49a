/**
 * The threaded tfjs wasm binary with a short spin in XNNPACK's pool threads.
 *
 * pthreadpool (XNNPACK's thread pool, compiled into tfjs-backend-wasm's threaded binary) keeps a
 * worker thread that has finished its share of a kernel spinning on the pool's command word for
 * PTHREADPOOL_SPIN_WAIT_ITERATIONS = 1,000,000 iterations, milliseconds in wasm, before it sleeps
 * on a futex. A training step alternates XNNPACK kernels with this project's kernels and tfjs's
 * op dispatch, so on two cores the pool thread spun through most of the step on the second core,
 * and the helper thread that shares our SIMD kernels' work (simd/simd-calls.ts) started late
 * behind it. This copy spins 200,000 iterations, a fraction of a millisecond: long enough to
 * bridge the gaps between the kernels of a batch-1 prediction (with 1,000 the pool thread slept
 * between them and small-cnn's p50 latency went 0.25 -> 0.41-0.63 ms; with 200,000 it is 0.25
 * ms, as stock, and p95 2.4-2.5 against 3.1-3.2 ms), short enough to leave the core to our
 * helper during a training step. MobileNetV3-Small@96 at batch 32 on two threads (call batches
 * split from 1M multiply-adds), processes alternating: gradient step 117.7-118.2 ms against
 * 123.1-125.3 ms with the stock binary; `bench/train-vs-pytorch.ts`'s training figure 236-244
 * against 228-233 img/s.
 *
 * The constant is found by the code around it: the worker's wait, `i32.const 1000000; local.set;
 * local.get flags; i32.const 2 (PTHREADPOOL_FLAG_YIELD_WORKERS); i32.and; i32.eqz; if; loop`. It
 * must occur exactly once and the patched module must validate; otherwise the stock binary runs.
 * The calling thread's own wait for the workers keeps its spin: it has nothing else to do.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Wasm } from '../core/compile-wat.js';

const require = createRequire(import.meta.url);

/** Spin iterations of an idle pool thread before it sleeps (pthreadpool's default: 1,000,000). */
export const POOL_SPIN_ITERATIONS = 200_000;

/** `i32.const 1000000` (signed LEB128) and what follows it in the worker's wait; -1 = any byte. */
const WORKER_WAIT = [0x41, 0xc0, 0x84, 0x3d, 0x21, -1, 0x20, -1, 0x41, 0x02, 0x71, 0x45, 0x04, 0x40, 0x03, 0x40];

/** The wasm binaries tfjs-backend-wasm picks from, by file name. */
export const WASM_BINARIES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm', 'tfjs-backend-wasm-threaded-simd.wasm'] as const;

function matchesAt(bytes: Uint8Array, at: number): boolean {
  for (let i = 0; i < WORKER_WAIT.length; i++) {
    const want = WORKER_WAIT[i]!;
    if (want !== -1 && bytes[at + i] !== want) return false;
  }
  return true;
}

/** The offset of the worker wait's `i32.const 1000000` in `bytes`, or undefined where it is not found exactly once. */
export function poolSpinAt(bytes: Uint8Array): number | undefined {
  let found: number | undefined;
  for (let at = bytes.indexOf(0x41); at !== -1 && at + WORKER_WAIT.length <= bytes.length; at = bytes.indexOf(0x41, at + 1)) {
    if (!matchesAt(bytes, at)) continue;
    if (found !== undefined) return undefined;
    found = at;
  }
  return found;
}

/**
 * A copy of the threaded binary `bytes` whose pool threads spin `iterations` times (1 to
 * 2^20 - 1, kept in the constant's three bytes) before sleeping, or undefined where the worker's
 * wait is not found exactly once or the result does not validate.
 */
export function shortenPoolSpin(bytes: Uint8Array, iterations = POOL_SPIN_ITERATIONS): Uint8Array | undefined {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations >= 1 << 20) {
    throw new RangeError(`pool spin iterations must be an integer in [1, ${(1 << 20) - 1}], got ${iterations}`);
  }
  const found = poolSpinAt(bytes);
  if (found === undefined) return undefined;
  const patched = Uint8Array.from(bytes);
  // Three-byte signed LEB128, as the original: bit 6 of the last byte clear keeps it positive.
  patched[found + 1] = (iterations & 0x7f) | 0x80;
  patched[found + 2] = ((iterations >> 7) & 0x7f) | 0x80;
  patched[found + 3] = (iterations >> 14) & 0x3f;
  return Wasm.validate(patched) ? patched : undefined;
}

/** Where the installed tfjs-backend-wasm keeps `name`. */
export function stockWasmBinary(name: (typeof WASM_BINARIES)[number]): string {
  return join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist', name);
}

/** tfjs-backend-wasm's setWasmPaths map: the stock binaries, the threaded one at `threaded`. */
export function wasmPathsWith(threaded: string): Record<(typeof WASM_BINARIES)[number], string> {
  return Object.fromEntries(WASM_BINARIES.map((name) => [name, name === 'tfjs-backend-wasm-threaded-simd.wasm' ? threaded : stockWasmBinary(name)])) as Record<(typeof WASM_BINARIES)[number], string>;
}

/**
 * Writes the short-spin threaded binary once per content (under the OS temp folder, named by its
 * hash, renamed into place whole) and returns its path; undefined where it cannot be made, and
 * then the stock binary runs.
 */
export async function shortSpinThreadedBinary(): Promise<string | undefined> {
  const patched = shortenPoolSpin(await readFile(stockWasmBinary('tfjs-backend-wasm-threaded-simd.wasm')));
  if (patched === undefined) return undefined;
  const digest = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex').slice(0, 16);
  const hash = digest(patched);
  const folder = join(tmpdir(), 'durable-vision-wasm');
  const path = join(folder, `tfjs-backend-wasm-threaded-simd-${hash}.wasm`);
  const existing = await readFile(path).catch(() => undefined);
  if (existing !== undefined && digest(existing) === hash) return path;
  try {
    await mkdir(folder, { recursive: true });
    const partial = `${path}.${process.pid}.${Date.now()}.partial`;
    await writeFile(partial, patched);
    await rename(partial, path);
    return path;
  } catch {
    return undefined;
  }
}
