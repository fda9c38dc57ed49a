/**
 * Records the history of a small real sweep for the replay test:
 * `node bin/run-ts.mjs tests/replay/record-sweep-history.ts`. Writes `sweep-v1.json`: phase 1,
 * an ASHA sweep of four trials with every steering signal (enqueue, a refused enqueue,
 * setConcurrency, extendBudget, stop) arriving while trials train, and the leaderboard write.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { temporalCliPath } from '../../infra/tools.js';
import { silentLogger } from '../../src/activities/logger.js';
import { CPU_QUEUE, TASK_QUEUES } from '../../src/core/task-queues.js';
import { createWorkers } from '../../src/workers/create-workers.js';
import {
  enqueueTrialSignal, extendBudgetSignal, setConcurrencySignal, stopSweepSignal, sweepStatusQuery, sweepWorkflow,
} from '../../src/workflows/sweep-workflow.js';
import { tinySweepConfig } from '../integration/support/sweep-config.js';
import { startTemporal, withWorkers } from '../integration/support/temporal.js';

const dir = await mkdtemp(join(tmpdir(), 'dv-record-sweep-'));
const env = await startTemporal();
const sweepId = 'replay-sweep';

try {
  const workers = await createWorkers({ connection: env.nativeConnection, queues: TASK_QUEUES, logger: silentLogger, maxConcurrentActivities: { 'vision-gpu': 2 } });
  await withWorkers(workers, async () => {
    const config = tinySweepConfig({ scheduler: { kind: 'asha', minEpochs: 1, reductionFactor: 2 }, trials: 3, concurrency: 1 }, { epochs: 2 });
    const handle = await env.client.workflow.start(sweepWorkflow, { taskQueue: CPU_QUEUE, workflowId: sweepId, args: [{ sweepId, storeUri: `file://${dir}/artifacts`, config }] });
    const waitFor = async (predicate: (total: number, training: number) => boolean) => {
      for (;;) {
        const s = await handle.query(sweepStatusQuery);
        if (predicate(s.counts.total, s.training.length)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await waitFor((total, training) => total >= 1 && training >= 1);
    await handle.signal(enqueueTrialSignal, { 'training.learningRate': 0.005, 'model.widthMultiplier': 0.5 });
    await handle.signal(enqueueTrialSignal, { 'training.learningRate': 5, 'model.widthMultiplier': 0.5 });
    await handle.signal(setConcurrencySignal, 2);
    await handle.signal(extendBudgetSignal, 1);
    await waitFor((total) => total >= 4);
    await handle.signal(stopSweepSignal, 'recorded');
    await handle.result();
  });
  // The Temporal CLI writes history in the JSON form that Worker.runReplayHistory reads.
  const history = execFileSync(temporalCliPath(), ['workflow', 'show', '--workflow-id', sweepId, '--address', env.address, '--output', 'json'], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const out = fileURLToPath(new URL('./histories/sweep-v1.json', import.meta.url));
  await writeFile(out, history);
  console.log(`wrote ${out}`);
} finally {
  await env.teardown();
  await rm(dir, { recursive: true, force: true });
}
process.exit(0);
