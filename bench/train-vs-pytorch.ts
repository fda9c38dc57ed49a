/**
 * Training and inference images/s of our engine (tfjs wasm + this project's kernels) against
 * PyTorch CPU (Debian python3-torch 1.13, installed by scripts/install-torch.mjs) in the same
 * run, same architecture, batch size and thread count, random data, Adam, cross-entropy.
 *
 *   node bin/run-ts.mjs bench/train-vs-pytorch.ts [--threads 2] [--quick]
 *     [--arch small-cnn,mobilenet-v3-small,resnet-18] [--repeats 1] [--profile]
 *
 * --threads takes a list (`--threads 1,2`). Each measurement runs in its own process (wasm's
 * thread count is fixed per process): ours, then torch, per architecture and thread count,
 * --repeats times alternating, best of the repeats kept (the machine is shared; the best run
 * is the one least disturbed by other work).
 *
 * Ours: `runTraining` through the engine for 2 epochs of `steps * batch` images; the figure is
 * epoch 2's EpochMetrics.imagesPerSecond (epoch 1 pays for kernel set-up and allocation), so it
 * includes batch assembly, the loss read-back and the accuracy count every step, as in a real
 * run. Inference: engine.benchmark at the same batch size. Torch: bench/torch_train.py, warm-up
 * steps then timed steps, loss.item() every step; inference in eval mode under no_grad.
 * --profile adds a per-kernel profile (tf.profile) of one training step of small-cnn and
 * MobileNetV3-Small on wasm.
 */
import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { initBackend, wasmThreadsInUse } from '../src/ml/backend.js';
import { buildModel } from '../src/ml/build-model.js';
import type { ArchitectureName, EpochReport, ImageBatchSource, ModelSpec } from '../src/ml/engine.js';
import { BatchAssembler } from '../src/ml/image-batches.js';
import { createOptimizer } from '../src/ml/optimizer-bytes.js';
import { createTfjsEngine } from '../src/ml/tfjs-engine.js';
import { timedStep } from './support/training-step.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SELF = fileURLToPath(import.meta.url);

interface Case {
  arch: ArchitectureName;
  side: number;
  channels: number;
  batch: number;
  /** Timed steps per epoch (full, --quick). */
  steps: [number, number];
  /** Training ratio we aim for (ours / torch), or undefined where the issue sets none. */
  target?: number;
}

const CASES: Case[] = [
  { arch: 'small-cnn', side: 28, channels: 1, batch: 64, steps: [40, 15], target: 1 },
  { arch: 'mobilenet-v3-small', side: 96, channels: 3, batch: 32, steps: [10, 4], target: 1 },
  { arch: 'resnet-18', side: 64, channels: 3, batch: 32, steps: [8, 3] },
];

interface Measured {
  trainImgPerS: number;
  inferImgPerS: number;
  /** Trainable parameters (batch-norm moving statistics excluded on both sides). */
  params: number;
  /** What ran it: backend and threads, or the torch version. */
  runtime: string;
}

function modelSpec(c: Case): ModelSpec {
  return { architecture: c.arch, inputShape: [c.side, c.side, c.channels], numClasses: 10 };
}

function randomImages(c: Case, count: number): ImageBatchSource {
  const images = new Uint8Array(count * c.side * c.side * c.channels);
  let s = 12345;
  for (let i = 0; i < images.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    images[i] = s >>> 24;
  }
  const labels = Int32Array.from({ length: count }, (_, i) => (i * 7) % 10);
  return { images, labels, count, shape: [c.side, c.side, c.channels], scaling: '0-1' };
}

/** Worker side: one architecture on wasm at `threads`; prints one JSON line. */
async function measureOurs(c: Case, threads: number, steps: number, inferSeconds: number): Promise<Measured> {
  await initBackend('wasm', { wasmThreads: threads });
  const engine = createTfjsEngine({ backend: 'wasm', wasmThreads: threads });
  const data = randomImages(c, steps * c.batch);
  const history: EpochReport[] = [];
  const outcome = await engine.train({
    model: modelSpec(c),
    spec: { epochs: 2, batchSize: c.batch, learningRate: 1e-3, seed: 1 },
    train: data,
    onEpochEnd: (report) => {
      history.push(report);
      return Promise.resolve();
    },
  });
  const bench = await engine.benchmark(outcome.model, data, { batchSize: c.batch, seconds: inferSeconds });
  // outcome.paramsCount also counts batch-norm moving means/variances; torch's figure does not.
  const built = buildModel(modelSpec(c), 1);
  const trainable = built.trainableWeights.reduce((n, w) => n + tf.util.sizeFromShape(w.shape as number[]), 0);
  built.dispose();
  return {
    trainImgPerS: history[1]!.imagesPerSecond,
    inferImgPerS: bench.throughputImgPerS,
    params: trainable,
    runtime: `${tf.getBackend()} ${wasmThreadsInUse()} thread(s)`,
  };
}

/** Kernel time of one training step (after two warm-up steps), summed per kernel name. */
async function profileOurs(c: Case, threads: number): Promise<{ totalMs: number; wallMs: number; rows: [string, number, number][] }> {
  await initBackend('wasm', { wasmThreads: threads });
  const model = buildModel(modelSpec(c), 1);
  const optimizer = createOptimizer({ kind: 'adam', learningRate: 1e-3, momentum: 0 });
  const batches = new BatchAssembler(randomImages(c, c.batch));
  const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const step = (): void => timedStep(model, optimizer, batches, c.batch, variables);
  step();
  step();
  const t0 = performance.now();
  step();
  const wallMs = performance.now() - t0;
  const info = await tf.profile(step);
  optimizer.dispose();
  model.dispose();
  const totals = new Map<string, [number, number]>();
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const [sum, n] = totals.get(k.name) ?? [0, 0];
    totals.set(k.name, [sum + ms, n + 1]);
  }
  const rows = [...totals.entries()].map(([name, [ms, n]]): [string, number, number] => [name, ms, n]).sort((a, b) => b[1] - a[1]);
  return { totalMs: rows.reduce((s, r) => s + r[1], 0), wallMs, rows };
}

interface TorchEnv { PYTHON: string; PYTHONPATH: string; LD_LIBRARY_PATH: string }

function torchEnv(): TorchEnv {
  const install = spawnSync(process.execPath, [join(ROOT, 'scripts/install-torch.mjs')], { encoding: 'utf8' });
  if (install.status !== 0) throw new Error(`scripts/install-torch.mjs failed:\n${install.stdout}${install.stderr}`);
  const first = install.stdout.split('\n').find((l) => l.startsWith('torch: ') && l.includes('(python3-torch'));
  if (first) console.log(first);
  return JSON.parse(readFileSync(join(ROOT, '.tools/torch/env.json'), 'utf8')) as TorchEnv;
}

function lastJsonLine(stdout: string): unknown {
  const line = stdout.trim().split('\n').reverse().find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error('no JSON line in the output');
  return JSON.parse(line);
}

function runOursChild(c: Case, threads: number, steps: number, inferSeconds: number): Measured {
  const child = spawnSync(process.execPath, [join(ROOT, 'bin/run-ts.mjs'), SELF, '--worker', c.arch, '--threads', String(threads),
    '--steps', String(steps), '--infer-seconds', String(inferSeconds)], { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * 2 ** 20 });
  if (child.status !== 0) throw new Error(lastLines(child.stderr || child.stdout, 6));
  return lastJsonLine(child.stdout) as Measured;
}

function runTorchChild(env: TorchEnv, c: Case, threads: number, steps: number, inferSeconds: number): Measured {
  const child = spawnSync(env.PYTHON, [join(ROOT, 'bench/torch_train.py'), '--arch', c.arch, '--size', String(c.side),
    '--channels', String(c.channels), '--batch', String(c.batch), '--threads', String(threads), '--steps', String(steps),
    '--warmup', String(Math.max(2, Math.min(5, steps))), '--infer-seconds', String(inferSeconds)],
  { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PYTHONPATH: env.PYTHONPATH, LD_LIBRARY_PATH: env.LD_LIBRARY_PATH } });
  if (child.status !== 0) throw new Error(lastLines(child.stderr || child.stdout, 6));
  const r = lastJsonLine(child.stdout) as { trainImgPerS: number; inferImgPerS: number; params: number; torch: string; threads: number };
  return { trainImgPerS: r.trainImgPerS, inferImgPerS: r.inferImgPerS, params: r.params, runtime: `torch ${r.torch} ${r.threads} thread(s)` };
}

function lastLines(text: string, n: number): string {
  return text.trim().split('\n').slice(-n).join('\n');
}

type Outcome = Measured | { error: string };

function best(runs: Outcome[]): Outcome {
  const ok = runs.filter((r): r is Measured => !('error' in r));
  if (ok.length === 0) return runs[0]!;
  return {
    ...ok[0]!,
    trainImgPerS: Math.max(...ok.map((r) => r.trainImgPerS)),
    inferImgPerS: Math.max(...ok.map((r) => r.inferImgPerS)),
  };
}

function attempt(fn: () => Measured): Outcome {
  try {
    return fn();
  } catch (error) {
    return { error: (error as Error).message };
  }
}

export async function benchTrainVsPytorch(options: { threads: number[]; quick: boolean; archs: string[]; repeats: number; profile: boolean }): Promise<void> {
  const env = torchEnv();
  const cases = CASES.filter((c) => options.archs.includes(c.arch));
  const inferSeconds = options.quick ? 1 : 2;
  console.log(`backend: ours = tfjs ${tf.version_core} wasm + project kernels (XNNPACK threads as listed), torch = Debian CPU build; `
    + `load average at start ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const header = ['model', 'batch', 'thr', 'train ours', 'train torch', 'ratio', 'infer ours', 'infer torch', 'ratio', 'target', 'result'];
  const rows: string[][] = [];
  const notes: string[] = [];
  for (const threads of options.threads) {
    for (const c of cases) {
      const steps = c.steps[options.quick ? 1 : 0];
      const ours: Outcome[] = [];
      const torch: Outcome[] = [];
      for (let r = 0; r < options.repeats; r++) {
        ours.push(attempt(() => runOursChild(c, threads, steps, inferSeconds)));
        torch.push(attempt(() => runTorchChild(env, c, threads, steps, inferSeconds)));
      }
      const o = best(ours);
      const t = best(torch);
      const name = `${c.arch}@${c.side}x${c.side}x${c.channels}`;
      const fmt = (x: Outcome, key: 'trainImgPerS' | 'inferImgPerS') => ('error' in x ? 'error' : x[key].toFixed(1));
      const ratio = (key: 'trainImgPerS' | 'inferImgPerS') => ('error' in o || 'error' in t ? '-' : `${(o[key] / t[key]).toFixed(2)}x`);
      const trainRatio = 'error' in o || 'error' in t ? undefined : o.trainImgPerS / t.trainImgPerS;
      const result = c.target === undefined ? 'report' : trainRatio === undefined ? 'ERROR' : trainRatio >= c.target ? 'PASS' : 'FAIL';
      rows.push([name, String(c.batch), String(threads), fmt(o, 'trainImgPerS'), fmt(t, 'trainImgPerS'), ratio('trainImgPerS'),
        fmt(o, 'inferImgPerS'), fmt(t, 'inferImgPerS'), ratio('inferImgPerS'), c.target === undefined ? '-' : `>=${c.target.toFixed(1)}x`, result]);
      if ('error' in o) notes.push(`${name} ours, ${threads} thread(s): ${o.error}`);
      else notes.push(`${name} ours ran on ${o.runtime}, ${o.params} trainable params, ${steps} steps/epoch`);
      if ('error' in t) notes.push(`${name} torch, ${threads} thread(s): ${t.error}`);
      else notes.push(`${name} torch ran on ${t.runtime}, ${t.params} trainable params`);
      console.log(`  measured ${name} at ${threads} thread(s)`);
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  console.log(`\ntraining and inference images/s, 10 classes, Adam, best of ${options.repeats}${options.quick ? ', --quick' : ''}`);
  console.log(line(header));
  for (const r of rows) console.log(line(r));
  for (const n of notes) console.log(`  ${n}`);
  console.log(`load average at end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);

  if (options.profile) {
    for (const arch of ['small-cnn', 'mobilenet-v3-small']) {
      const c = CASES.find((x) => x.arch === arch)!;
      const threads = options.threads[options.threads.length - 1]!;
      const child = spawnSync(process.execPath, [join(ROOT, 'bin/run-ts.mjs'), SELF, '--worker', arch, '--threads', String(threads), '--profile-worker'],
        { cwd: ROOT, encoding: 'utf8', maxBuffer: 16 * 2 ** 20 });
      if (child.status !== 0) {
        console.log(`profile ${arch}: failed: ${lastLines(child.stderr || child.stdout, 6)}`);
        continue;
      }
      const p = lastJsonLine(child.stdout) as { totalMs: number; wallMs: number; rows: [string, number, number][] };
      console.log(`\nkernel profile, one training step of ${arch}@${c.side} batch ${c.batch} on wasm, ${threads} thread(s): `
        + `${p.totalMs.toFixed(1)} ms in kernels, ${p.wallMs.toFixed(1)} ms wall (unprofiled step)`);
      for (const [name, ms, n] of p.rows.slice(0, 14)) {
        console.log(`  ${ms.toFixed(2).padStart(8)} ms  ${(100 * ms / p.totalMs).toFixed(1).padStart(5)}%  ${String(n).padStart(4)}x  ${name}`);
      }
    }
  }
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  const { values } = parseArgs({
    options: {
      threads: { type: 'string', default: '2' },
      quick: { type: 'boolean', default: false },
      arch: { type: 'string', default: CASES.map((c) => c.arch).join(',') },
      repeats: { type: 'string', default: '1' },
      profile: { type: 'boolean', default: false },
      worker: { type: 'string' },
      steps: { type: 'string' },
      'infer-seconds': { type: 'string', default: '2' },
      'profile-worker': { type: 'boolean', default: false },
    },
  });
  const positive = (name: string, raw: string): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`--${name} must be an integer >= 1, got ${raw}`);
    return n;
  };
  const threads = values.threads.split(',').map((t) => positive('threads', t));
  if (values.worker !== undefined) {
    const c = CASES.find((x) => x.arch === values.worker);
    if (c === undefined) throw new RangeError(`--worker must be one of ${CASES.map((x) => x.arch).join(', ')}, got ${values.worker}`);
    const result = values['profile-worker']
      ? await profileOurs(c, threads[0]!)
      : await measureOurs(c, threads[0]!, positive('steps', values.steps ?? String(c.steps[0])), Number(values['infer-seconds']));
    console.log(JSON.stringify(result));
    process.exit(0);
  }
  const archs = values.arch.split(',');
  for (const a of archs) {
    if (!CASES.some((c) => c.arch === a)) throw new RangeError(`--arch takes ${CASES.map((c) => c.arch).join(', ')}; got ${a}`);
  }
  await benchTrainVsPytorch({ threads, quick: values.quick, archs, repeats: positive('repeats', values.repeats), profile: values.profile });
}
