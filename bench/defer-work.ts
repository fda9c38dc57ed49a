/**
 * Weight gradients deferred to the SCHED_IDLE worker thread (src/ml/kernels/deferred-work.ts,
 * the default) against the same kernels run in place, in one process at two threads, rounds
 * alternating between the two (deferral is a switch, so both share the process, the model and
 * the heap): a training step (forward, backward, Adam), wall ms, median over each round's steps.
 *
 *   node bin/run-ts.mjs bench/defer-work.ts [--arch mobilenet-v3-small,small-cnn] [--rounds 6] [--steps 10]
 *
 * Prints each round's medians, then per architecture the median over rounds, the best round of
 * each, and deferred / in place ratios.
 */
import * as tf from '@tensorflow/tfjs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { initBackend } from '../src/ml/backend.js';
import { setDeferWork } from '../src/ml/kernels/deferred-work.js';
import { deferralAvailable, deferredCallBatches } from '../src/ml/kernels/simd/simd-calls.js';
import { backendMemory } from '../src/ml/kernels/simd/simd-kernels.js';
import { createOptimizer } from '../src/ml/optimizer-bytes.js';
import { BENCH_SHAPES, benchSetup, median, timedStep } from './support/training-step.js';

const { values } = parseArgs({
  options: {
    arch: { type: 'string', default: 'mobilenet-v3-small,small-cnn' },
    rounds: { type: 'string', default: '6' },
    steps: { type: 'string', default: '10' },
  },
});
const steps = Number(values.steps);
const rounds = Number(values.rounds);
if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`--steps must be an integer >= 1, got ${values.steps}`);
if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`--rounds must be an integer >= 1, got ${values.rounds}`);
const archs = values.arch.split(',');
for (const arch of archs) if (BENCH_SHAPES[arch] === undefined) throw new RangeError(`--arch must list ${Object.keys(BENCH_SHAPES).join(', ')}, got ${arch}`);

await initBackend('wasm', { wasmThreads: 2 });
if (!deferralAvailable(backendMemory(tf.backend() as never)!)) {
  throw new Error('deferral is not available here (needs Linux, two wasm threads and chrt to put the worker under SCHED_IDLE)');
}
console.log(`deferred weight gradients: training step at 2 threads, ${rounds} rounds of ${steps} steps each way; load average at start ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);

for (const arch of archs) {
  const { net, batches, batch, variables } = benchSetup(arch);
  const optimizer = createOptimizer({ kind: 'adam', learningRate: 1e-3, momentum: 0 });
  const step = (): void => timedStep(net, optimizer, batches, batch, variables);
  for (let i = 0; i < 4; i++) step();
  const figures = { deferred: [] as number[], inPlace: [] as number[] };
  let deferredBatches = 0;
  for (let round = 1; round <= rounds; round++) {
    for (const defer of [true, false]) {
      setDeferWork(defer);
      step();
      const before = deferredCallBatches();
      const times: number[] = [];
      for (let i = 0; i < steps; i++) {
        const started = performance.now();
        step();
        times.push(performance.now() - started);
      }
      if (defer) deferredBatches += deferredCallBatches() - before;
      (defer ? figures.deferred : figures.inPlace).push(median(times));
    }
    console.log(`${arch} round ${round}: deferred ${figures.deferred.at(-1)!.toFixed(1)} ms, in place ${figures.inPlace.at(-1)!.toFixed(1)} ms`);
  }
  setDeferWork(true);
  const [d, p] = [median(figures.deferred), median(figures.inPlace)];
  const [dBest, pBest] = [Math.min(...figures.deferred), Math.min(...figures.inPlace)];
  console.log(`${arch}: median deferred ${d.toFixed(1)} ms against in place ${p.toFixed(1)} ms a step: ${(d / p).toFixed(2)}x the time (${(p / d).toFixed(2)}x speed); `
    + `best rounds ${dBest.toFixed(1)} against ${pBest.toFixed(1)} ms (${(pBest / dBest).toFixed(2)}x speed); ${(deferredBatches / (rounds * steps)).toFixed(0)} batches deferred a step`);
  net.dispose();
}
console.log(`load average at end ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
