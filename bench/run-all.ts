/**
 * `npm run bench` lists the benchmarks; `npm run bench -- <name> [args...]` runs one, and
 * `npm run bench -- all` runs every one in turn (an hour or more on a 2-core machine). Each
 * benchmark prints its figures against a reference measured in the same run.
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const RUN_TS = join(BENCH_DIR, '..', 'bin', 'run-ts.mjs');

const BENCHES: Record<string, string> = {
  'phase1-vs-pillow': 'phase-1 decode + resize + augment images/s against Pillow (MNIST PNGs, sample photos)',
  'data-prep': 'phase-1 data preparation throughput on MNIST',
  'train-vs-pytorch': 'training and inference images/s against PyTorch CPU (small-cnn, MobileNetV3-Small, ResNet-18)',
  'train-step-cost': 'CPU ms per training step with tfjs\' optimizers and the fused ones',
  'pool-spin': 'training step and batch-1 latency at two threads, XNNPACK pool spin 200,000 against stock 1,000,000',
  'defer-work': 'training step at two threads, weight gradients deferred to the SCHED_IDLE worker against run in place',
  'train-small-cnn': 'small-cnn training images/s per backend',
  'transfer-fashion-to-mnist': 'Fashion-MNIST -> MNIST transfer against training from scratch',
  'engine-parity': 'tfjs and torch engines trained on the same MNIST spec: accuracy side by side',
  'torch-engine-overhead': 'torch engine against a bare PyTorch loop on the same model and data',
  'sweep-asha-vs-random': 'time to a target validation accuracy, ASHA against random search',
  'sweep-overhead': 'orchestration overhead per sweep trial (500 trials of fake training, 4 workers)',
};

function run(name: string, args: string[]): number {
  process.stderr.write(`\n== bench/${name}.ts ${args.join(' ')}\n`);
  const result = spawnSync(process.execPath, [RUN_TS, join(BENCH_DIR, `${name}.ts`), ...args], { stdio: 'inherit' });
  return result.status ?? 1;
}

const [name, ...args] = process.argv.slice(2);
if (name === undefined) {
  process.stdout.write('benchmarks (npm run bench -- <name> [args], or all):\n');
  for (const [bench, what] of Object.entries(BENCHES)) process.stdout.write(`  ${bench.padEnd(27)} ${what}\n`);
  process.stdout.write('GPU machines without Node: bash bench/gpu-check.sh\n');
} else if (name === 'all') {
  const failed = Object.keys(BENCHES).filter((bench) => run(bench, args) !== 0);
  if (failed.length > 0) {
    process.stderr.write(`failed: ${failed.join(', ')}\n`);
    process.exitCode = 1;
  }
} else if (name in BENCHES) {
  process.exitCode = run(name, args);
} else {
  process.stderr.write(`unknown benchmark ${JSON.stringify(name)}; expected one of ${Object.keys(BENCHES).join(', ')} or all\n`);
  process.exitCode = 2;
}
