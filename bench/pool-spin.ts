/**
 * The threaded wasm backend with XNNPACK's pool threads spinning 200,000 iterations before they
 * sleep (src/ml/wasm-pool-spin.ts, the default) against the stock binary's 1,000,000, in child
 * processes that alternate (the binary is chosen once per process):
 * - a training step (forward, backward, Adam) of the given architecture at two threads, wall ms,
 *   median over the steps;
 * - batch-1 prediction latency p50 / p95 of the same model, and of small-cnn.
 *
 *   node bin/run-ts.mjs bench/pool-spin.ts [--arch mobilenet-v3-small] [--rounds 3] [--steps 20]
 *
 * Prints each round's figures, then the medians over rounds and short / stock ratios.
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { initBackend, wasmBinaryInUse } from '../src/ml/backend.js';
import { createOptimizer } from '../src/ml/optimizer-bytes.js';
import { benchSetup, timedStep } from './support/training-step.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const VARIANTS = ['short', 'stock'] as const;
type Variant = (typeof VARIANTS)[number];

interface Figures {
  stepMs: number;
  p50Ms: number;
  p95Ms: number;
  smallCnnP50Ms: number;
  smallCnnP95Ms: number;
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Batch-1 prediction latencies (ms) after 100 warm-up calls: p50 and p95 of 500. */
function latency(net: tf.LayersModel, side: number, channels: number): [number, number] {
  const x = tf.randomUniform([1, side, side, channels], 0, 1, 'float32', 5);
  const times: number[] = [];
  for (let i = 0; i < 600; i++) {
    const started = performance.now();
    const y = net.predict(x) as tf.Tensor;
    y.dataSync();
    y.dispose();
    if (i >= 100) times.push(performance.now() - started);
  }
  x.dispose();
  return [quantile(times, 0.5), quantile(times, 0.95)];
}

async function measure(variant: Variant, arch: string, steps: number): Promise<Figures> {
  await initBackend('wasm', { wasmThreads: 2, wasmPoolSpin: variant });
  if ((wasmBinaryInUse() !== undefined) !== (variant === 'short')) throw new Error(`the ${variant} binary did not load (in use: ${wasmBinaryInUse() ?? 'stock'})`);
  const { net, side, channels, batch, batches, variables } = benchSetup(arch);
  const optimizer = createOptimizer({ kind: 'adam', learningRate: 1e-3, momentum: 0 });
  const step = (): void => timedStep(net, optimizer, batches, batch, variables);
  for (let i = 0; i < 4; i++) step();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const started = performance.now();
    step();
    times.push(performance.now() - started);
  }
  const [p50Ms, p95Ms] = latency(net, side, channels);
  const small = arch === 'small-cnn' ? { net, side, channels } : benchSetup('small-cnn');
  const [smallCnnP50Ms, smallCnnP95Ms] = latency(small.net, small.side, small.channels);
  return { stepMs: quantile(times, 0.5), p50Ms, p95Ms, smallCnnP50Ms, smallCnnP95Ms };
}

function runChild(variant: Variant, arch: string, steps: number): Figures {
  const child = spawnSync(process.execPath, [join(ROOT, 'bin/run-ts.mjs'), fileURLToPath(import.meta.url), '--worker', variant, '--arch', arch, '--steps', String(steps)],
    { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * 2 ** 20 });
  if (child.status !== 0) throw new Error(`pool-spin worker (${variant}) failed: ${child.stderr.slice(-2000)}`);
  return JSON.parse(child.stdout.trim().split('\n').at(-1)!) as Figures;
}

const fmt = (f: Figures): string => `step ${f.stepMs.toFixed(1)} ms, batch-1 p50/p95 ${f.p50Ms.toFixed(2)}/${f.p95Ms.toFixed(2)} ms, small-cnn ${f.smallCnnP50Ms.toFixed(2)}/${f.smallCnnP95Ms.toFixed(2)} ms`;

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  const { values } = parseArgs({
    options: {
      arch: { type: 'string', default: 'mobilenet-v3-small' },
      rounds: { type: 'string', default: '3' },
      steps: { type: 'string', default: '20' },
      worker: { type: 'string' },
    },
  });
  const steps = Number(values.steps);
  const rounds = Number(values.rounds);
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`--steps must be an integer >= 1, got ${values.steps}`);
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`--rounds must be an integer >= 1, got ${values.rounds}`);
  if (values.worker !== undefined) {
    if (!(VARIANTS as readonly string[]).includes(values.worker)) throw new RangeError(`--worker must be short or stock, got ${values.worker}`);
    console.log(JSON.stringify(await measure(values.worker as Variant, values.arch, steps)));
    process.exit(0);
  }
  console.log(`pool spin: ${values.arch} training step at 2 threads (${steps} steps) and batch-1 latency; load average at start ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const all: Record<Variant, Figures[]> = { short: [], stock: [] };
  for (let round = 1; round <= rounds; round++) {
    for (const variant of VARIANTS) {
      const f = runChild(variant, values.arch, steps);
      all[variant].push(f);
      console.log(`round ${round} ${variant.padEnd(5)} ${fmt(f)}`);
    }
  }
  const med = (variant: Variant): Figures => {
    const pick = (k: keyof Figures): number => quantile(all[variant].map((f) => f[k]), 0.5);
    return { stepMs: pick('stepMs'), p50Ms: pick('p50Ms'), p95Ms: pick('p95Ms'), smallCnnP50Ms: pick('smallCnnP50Ms'), smallCnnP95Ms: pick('smallCnnP95Ms') };
  };
  const [short, stock] = [med('short'), med('stock')];
  console.log(`median short ${fmt(short)}`);
  console.log(`median stock ${fmt(stock)}`);
  console.log(`short / stock: training step ${(short.stepMs / stock.stepMs).toFixed(2)}x time (${(stock.stepMs / short.stepMs).toFixed(2)}x speed), `
    + `batch-1 p50 ${(short.p50Ms / stock.p50Ms).toFixed(2)}x, p95 ${(short.p95Ms / stock.p95Ms).toFixed(2)}x, `
    + `small-cnn p50 ${(short.smallCnnP50Ms / stock.smallCnnP50Ms).toFixed(2)}x, p95 ${(short.smallCnnP95Ms / stock.smallCnnP95Ms).toFixed(2)}x`);
  console.log(`load average at end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
}
