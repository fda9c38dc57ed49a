/**
 * CPU time of one training step on wasm (forward, backward, optimizer), measured with
 * process.cpuUsage so that other work on a shared machine disturbs it less than wall time,
 * with the stock tfjs optimizer and this project's fused one alternating in the same process.
 *
 *   node bin/run-ts.mjs bench/train-step-cost.ts [--arch small-cnn] [--threads 1] [--steps 20]
 *     [--rounds 3] [--optimizer adam|momentum]
 *
 * Prints, per optimizer, the median over rounds of CPU ms and wall ms per step, and the load
 * average. At 1 thread CPU time is the cleanest figure; at 2 it includes XNNPACK's spinning.
 */
import * as tf from '@tensorflow/tfjs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { initBackend, wasmThreadsInUse } from '../src/ml/backend.js';
import { FusedAdamOptimizer, FusedMomentumOptimizer } from '../src/ml/fused-optimizer.js';
import { benchSetup, median, timedStep } from './support/training-step.js';


async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      arch: { type: 'string', default: 'small-cnn' },
      threads: { type: 'string', default: '1' },
      steps: { type: 'string', default: '20' },
      rounds: { type: 'string', default: '3' },
      optimizer: { type: 'string', default: 'adam' },
    },
  });
  if (values.optimizer !== 'adam' && values.optimizer !== 'momentum') throw new Error(`--optimizer must be adam or momentum, got ${values.optimizer}`);
  const threads = Number(values.threads);
  const steps = Number(values.steps);
  const rounds = Number(values.rounds);
  await initBackend('wasm', { wasmThreads: threads });
  const { net: model, batches, batch: count, side, variables } = benchSetup(values.arch);
  const make = {
    stock: (): tf.Optimizer => (values.optimizer === 'adam' ? tf.train.adam(1e-3) : tf.train.momentum(1e-3, 0.9)),
    fused: (): tf.Optimizer => (values.optimizer === 'adam' ? new FusedAdamOptimizer(1e-3, 0.9, 0.999) : new FusedMomentumOptimizer(1e-3, 0.9)),
  };
  const results: Record<string, { cpu: number[]; wall: number[] }> = { stock: { cpu: [], wall: [] }, fused: { cpu: [], wall: [] } };
  for (let round = 0; round < rounds; round++) {
    for (const kind of ['stock', 'fused'] as const) {
      const optimizer = make[kind]();
      const step = (): void => timedStep(model, optimizer, batches, count, variables);
      step();
      step();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      for (let s = 0; s < steps; s++) step();
      const wall = (performance.now() - t0) / steps;
      const used = process.cpuUsage(cpu0);
      results[kind]!.cpu.push((used.user + used.system) / 1000 / steps);
      results[kind]!.wall.push(wall);
      optimizer.dispose();
    }
  }
  model.dispose();
  const [l1] = loadavg();
  console.log(`${values.arch}@${side} batch ${count}, ${values.optimizer}, wasm ${wasmThreadsInUse()} thread(s), ${steps} steps x ${rounds} rounds, load ${l1!.toFixed(2)}`);
  for (const kind of ['stock', 'fused'] as const) {
    const r = results[kind]!;
    console.log(`  ${kind.padEnd(6)} cpu ${median(r.cpu).toFixed(2)} ms/step  wall ${median(r.wall).toFixed(2)} ms/step  (${(count / median(r.cpu) * 1000).toFixed(0)} img per cpu-s)`);
  }
}

await main();
