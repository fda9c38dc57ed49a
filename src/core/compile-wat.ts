/**
 * WebAssembly text to a compiled module through wabt (npm `wabt`, which downloads nothing),
 * loaded once per thread; for the project's SIMD kernels (training and image decoding).
 */
import { createRequire } from 'node:module';

interface WabtModule {
  parseWat(name: string, text: string, features: Record<string, boolean>): { toBinary(options: object): { buffer: Uint8Array }; destroy(): void };
}

/** The parts of the WebAssembly JS API used here (the project's TS libs do not declare them). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
export interface WasmApi {
  Memory: abstract new (...args: never[]) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  validate: (bytes: Uint8Array) => boolean;
}
export const Wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

let wabt: Promise<WabtModule> | undefined;

/** Compiles `text` (named `name` in wabt's messages) with the given wabt `features`; rejects with wabt's error. */
export async function compileWat(name: string, text: string, features: Record<string, boolean>): Promise<object> {
  wabt ??= (createRequire(import.meta.url)('wabt') as () => Promise<WabtModule>)();
  const parsed = (await wabt).parseWat(name, text, features);
  try {
    return new Wasm.Module(parsed.toBinary({}).buffer);
  } finally {
    parsed.destroy();
  }
}
