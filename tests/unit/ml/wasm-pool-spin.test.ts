import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend, wasmBinaryInUse } from '../../../src/ml/backend.js';
import { POOL_SPIN_ITERATIONS, poolSpinAt, shortenPoolSpin, shortSpinThreadedBinary, stockWasmBinary } from '../../../src/ml/wasm-pool-spin.js';

const THREADED = 'tfjs-backend-wasm-threaded-simd.wasm';

/** The signed LEB128 value of an `i32.const` immediate at `at` (three bytes here). */
function leb3(bytes: Uint8Array, at: number): number {
  return (bytes[at]! & 0x7f) | ((bytes[at + 1]! & 0x7f) << 7) | ((bytes[at + 2]! & 0x7f) << 14);
}

function differences(a: Uint8Array, b: Uint8Array): number[] {
  expect(a.length).toBe(b.length);
  const at: number[] = [];
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) at.push(i);
  return at;
}

describe('the short-spin threaded wasm binary', () => {
  it('changes only the pool threads\' spin count, from 1,000,000 to the given one, and still validates', async () => {
    const stock = new Uint8Array(await readFile(stockWasmBinary(THREADED)));
    const at = poolSpinAt(stock)!;
    expect(at).toBeDefined();
    expect(stock[at]).toBe(0x41); // i32.const
    expect(leb3(stock, at + 1)).toBe(1_000_000);
    const patched = shortenPoolSpin(stock, 1234)!;
    for (const changed of differences(stock, patched)) expect([at + 1, at + 2, at + 3]).toContain(changed);
    expect(leb3(patched, at + 1)).toBe(1234);
    expect(leb3(shortenPoolSpin(stock)!, at + 1)).toBe(POOL_SPIN_ITERATIONS);
    expect(leb3(shortenPoolSpin(stock, (1 << 20) - 1)!, at + 1)).toBe((1 << 20) - 1);
    expect((globalThis as unknown as { WebAssembly: { validate(b: Uint8Array): boolean } }).WebAssembly.validate(patched)).toBe(true);
  });

  it('leaves binaries alone where the worker\'s wait is missing or not unique', async () => {
    const stock = new Uint8Array(await readFile(stockWasmBinary(THREADED)));
    const at = poolSpinAt(stock)!;
    // Already patched: no 1,000,000 left in the worker's wait.
    expect(shortenPoolSpin(shortenPoolSpin(stock)!)).toBeUndefined();
    // Twice: the stock binary's wait copied after its end.
    const twice = new Uint8Array(stock.length + 32);
    twice.set(stock);
    twice.set(stock.subarray(at, at + 20), stock.length);
    expect(poolSpinAt(twice)).toBeUndefined();
    expect(shortenPoolSpin(twice)).toBeUndefined();
    expect(shortenPoolSpin(new Uint8Array([0, 0x61, 0x73, 0x6d]))).toBeUndefined();
  });

  it('rejects spin counts that do not fit the constant', async () => {
    const stock = new Uint8Array(await readFile(stockWasmBinary(THREADED)));
    for (const bad of [0, -1, 1.5, 1 << 20]) expect(() => shortenPoolSpin(stock, bad)).toThrow(/pool spin iterations must be an integer in \[1, 1048575\]/);
  });

  it('is written once, whole, and is what the threaded backend runs', async () => {
    const path = await shortSpinThreadedBinary();
    expect(path).toBeDefined();
    expect(await shortSpinThreadedBinary()).toBe(path);
    const stock = new Uint8Array(await readFile(stockWasmBinary(THREADED)));
    expect(new Uint8Array(await readFile(path!))).toEqual(shortenPoolSpin(stock));
    await initBackend('wasm', { wasmThreads: 2 });
    if (availableParallelism() >= 2) expect(wasmBinaryInUse()).toBe(path);
    // XNNPACK on the pool still computes what the cpu backend does.
    const x = tf.randomNormal([2, 9, 9, 8], 0, 1, 'float32', 3);
    const w = tf.randomNormal([3, 3, 8, 16], 0, 1, 'float32', 4);
    const onWasm = await tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same').data();
    await tf.setBackend('cpu');
    const onCpu = await tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 2, 'same').data();
    await tf.setBackend('wasm');
    for (let i = 0; i < onCpu.length; i++) expect(Math.abs(onWasm[i]! - onCpu[i]!)).toBeLessThan(1e-4);
  });
});
