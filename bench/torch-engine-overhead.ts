/**
 * The torch engine's training images/s, driven from TypeScript as the training activity drives
 * it (createTorchEngine: pixels written to files, the Python child's loop, progress lines,
 * every epoch's checkpoint read back and handed to onEpochEnd), against the bare PyTorch loop of
 * bench/torch_train.py on the same model, batch size, thread count and CPU. Target: overhead
 * <= 10% (ratio engine / bare >= 0.90).
 *
 *   node bin/run-ts.mjs bench/torch-engine-overhead.ts [--threads 1] [--repeats 3] [--quick]
 *     [--arch small-cnn,mobilenet-v3-small,resnet-18]
 *
 * Engine figure: epoch 2's EpochReport.imagesPerSecond of a 2-epoch run of `steps * batch`
 * random images (epoch 1 pays for allocation). Bare figure: torch_train.py's timed steps after
 * its warm-up. Runs alternate, best of --repeats kept for each (the machine is shared).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { ArchitectureName, ImageBatchSource } from '../src/ml/engine.js';
import { createTorchEngine } from '../src/ml/torch-engine.js';
import { TORCH_ENV_FILE, TORCH_PACKAGE_DIR } from '../src/ml/torch-process.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

interface Case { arch: ArchitectureName; side: number; channels: number; batch: number; steps: [number, number] }

const CASES: Case[] = [
  { arch: 'small-cnn', side: 28, channels: 1, batch: 64, steps: [60, 20] },
  { arch: 'mobilenet-v3-small', side: 96, channels: 3, batch: 32, steps: [12, 4] },
  { arch: 'resnet-18', side: 64, channels: 3, batch: 32, steps: [12, 4] },
];

function randomSource(c: Case, count: number): ImageBatchSource {
  const images = new Uint8Array(count * c.side * c.side * c.channels);
  let s = 12345;
  for (let i = 0; i < images.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    images[i] = s >>> 24;
  }
  const labels = Int32Array.from({ length: count }, (_, i) => i % 10);
  return { images, labels, count, shape: [c.side, c.side, c.channels], scaling: '0-1' };
}

async function engineRate(c: Case, steps: number, threads: number): Promise<number> {
  const engine = createTorchEngine({ device: 'cpu', threads });
  try {
    const outcome = await engine.train({
      model: { architecture: c.arch, inputShape: [c.side, c.side, c.channels], numClasses: 10 },
      spec: { epochs: 2, batchSize: c.batch, learningRate: 1e-3, seed: 1 },
      train: randomSource(c, steps * c.batch),
      onEpochEnd: () => Promise.resolve(),
    });
    return outcome.history[1]!.imagesPerSecond;
  } finally {
    await engine.close();
  }
}

function bareRate(c: Case, steps: number, threads: number): number {
  const env = JSON.parse(readFileSync(TORCH_ENV_FILE, 'utf8')) as Record<string, string>;
  const r = spawnSync(env.PYTHON ?? 'python3', [join(ROOT, 'bench', 'torch_train.py'), '--arch', c.arch, '--size', String(c.side), '--channels', String(c.channels),
    '--batch', String(c.batch), '--threads', String(threads), '--steps', String(steps), '--warmup', '5', '--infer-seconds', '0.2'], {
    env: { ...process.env, PYTHONPATH: [TORCH_PACKAGE_DIR, env.PYTHONPATH].join(':'), LD_LIBRARY_PATH: env.LD_LIBRARY_PATH ?? '' },
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`bench/torch_train.py failed (${r.status}): ${r.stderr}`);
  return (JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { trainImgPerS: number }).trainImgPerS;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { threads: { type: 'string', default: '1' }, repeats: { type: 'string', default: '3' }, quick: { type: 'boolean', default: false }, arch: { type: 'string' } } });
  const threads = Number(values.threads);
  const repeats = Number(values.repeats);
  if (!(Number.isInteger(threads) && threads >= 1)) throw new Error(`--threads must be an integer >= 1, got ${values.threads}`);
  if (!(Number.isInteger(repeats) && repeats >= 1)) throw new Error(`--repeats must be an integer >= 1, got ${values.repeats}`);
  const wanted = values.arch?.split(',');
  const cases = CASES.filter((c) => wanted === undefined || wanted.includes(c.arch));
  console.log(`torch engine (from TypeScript) vs bare PyTorch loop, CPU, ${threads} thread(s), best of ${repeats}; load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log('model                 size batch  engine img/s  bare img/s  ratio  overhead');
  for (const c of cases) {
    const steps = c.steps[values.quick ? 1 : 0];
    let engine = 0;
    let bare = 0;
    for (let r = 0; r < repeats; r++) {
      engine = Math.max(engine, await engineRate(c, steps, threads));
      bare = Math.max(bare, bareRate(c, steps, threads));
    }
    const ratio = engine / bare;
    console.log(`${c.arch.padEnd(21)} ${String(c.side).padStart(4)} ${String(c.batch).padStart(5)} ${engine.toFixed(0).padStart(13)} ${bare.toFixed(0).padStart(11)} ${ratio.toFixed(3).padStart(6)}x ${((1 - ratio) * 100).toFixed(1).padStart(7)}%`);
  }
  console.log(`load average after: ${loadavg().map((l) => l.toFixed(1)).join(' ')}; target: overhead <= 10% (ratio >= 0.90)`);
}

await main();
