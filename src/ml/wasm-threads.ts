/**
 * Multi-threaded XNNPACK for the tfjs wasm backend under Node.
 *
 * tfjs-backend-wasm 4.22 ships a threaded SIMD binary but refuses it under Node
 * (WASM_HAS_MULTITHREAD_SUPPORT is hard-wired false there, tfjs issue #3830) because its
 * Emscripten glue starts pthread workers from blob: URLs, which Node's Worker cannot load.
 * Measured on 2 cores, 2 threads run a 28x28x32 convolution ~2x faster, so we bridge the gap
 * for the duration of backend initialisation only:
 * - the glue's `new Worker(blobUrl)` gets a worker built from the same worker script, evaluated
 *   from source, and the 'load' message's Blob is swapped for the factory file on disk;
 * - XNNPACK caps its pool at os.cpus().length / 2 (it assumes hyper-threads), so os.cpus is
 *   widened while the pool is created;
 * - the pool's workers are unref'ed afterwards: they only ever run while the main thread is
 *   blocked inside a kernel, and must not keep a finished process alive.
 * Everything patched here is restored before `withWasmThreads` returns.
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { Worker as NodeWorker } from 'node:worker_threads';

const require = createRequire(import.meta.url);

interface WorkerSources {
  /** The Emscripten pthread worker script, with newlines escaped as the tfjs loader does. */
  script: string;
  /** The threaded factory the worker imports (instead of the Blob the glue sends). */
  factoryPath: string;
}

function workerSources(): WorkerSources {
  const root = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  const scriptModule = require(join(root, 'wasm-out/tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents?: unknown };
  if (typeof scriptModule.wasmWorkerContents !== 'string') {
    throw new Error(`tfjs-backend-wasm at ${root} has no threaded worker script (wasmWorkerContents)`);
  }
  return {
    script: scriptModule.wasmWorkerContents.replace(/\n/g, '\\n'),
    factoryPath: join(root, 'wasm-out/tfjs-backend-wasm-threaded-simd.js'),
  };
}

interface LoadMessage { cmd?: unknown; urlOrBlob?: unknown }

/**
 * Runs `init` (which must initialise the wasm backend) with the threaded binary enabled for
 * `threads` XNNPACK threads. Returns what `init` returns; restores every patch either way.
 */
export async function withWasmThreads<T>(threads: number, init: () => Promise<T>): Promise<T> {
  const sources = workerSources();
  const spawned: PthreadWorker[] = [];
  let released = false;

  class PthreadWorker extends NodeWorker {
    constructor() {
      super(sources.script, { eval: true });
      spawned.push(this);
    }

    override postMessage(message: unknown, transfer?: Parameters<NodeWorker['postMessage']>[1]): void {
      const load = message as LoadMessage | null;
      if (load !== null && typeof load === 'object' && load.cmd === 'load' && typeof load.urlOrBlob !== 'string') {
        super.postMessage({ ...load, urlOrBlob: sources.factoryPath }, transfer);
        return;
      }
      super.postMessage(message, transfer);
    }

    override ref(): void {
      if (!released) super.ref();
    }
  }

  const workerDescriptor = Object.getOwnPropertyDescriptor(globalThis, 'Worker');
  // The glue assigns `global.Worker = worker_threads.Worker` and then calls `new Worker(...)`:
  // an accessor lets our class win that race without touching the glue.
  Object.defineProperty(globalThis, 'Worker', {
    configurable: true,
    get: () => PthreadWorker,
    set: () => undefined,
  });
  const cpus = os.cpus;
  os.cpus = () => {
    const real = cpus.call(os);
    const wanted = Math.max(real.length, 2 * threads);
    return Array.from({ length: wanted }, (_, i) => real[i % real.length]!);
  };
  try {
    return await init();
  } finally {
    os.cpus = cpus;
    if (workerDescriptor === undefined) Reflect.deleteProperty(globalThis, 'Worker');
    else Object.defineProperty(globalThis, 'Worker', workerDescriptor);
    released = true;
    for (const worker of spawned) worker.unref();
  }
}
