import { randomBytes } from 'node:crypto';
import { CPU_QUEUE } from '../../core/task-queues.js';
import type { DatasetManifest, PipelineResult } from '../../core/manifests.js';
import { createStderrLogger } from '../../activities/logger.js';
import { runKeys } from '../../activities/run-keys.js';
import { openStore } from '../../storage/open-store.js';
import { datasetWorkflow, trainingPipelineWorkflow } from '../../workflows/pipeline-workflow.js';
import { loadConfig } from '../load-config.js';
import { followProgress } from '../progress-view.js';
import { DATA_DIR } from '../temporal-session.js';
import { driveWorkflow } from '../drive-workflow.js';

export interface RunOptions {
  config?: string;
  store?: string;
  json?: boolean;
  /** Serve both queues from this process. Defaults to true; false relies on remote workers. */
  worker?: boolean;
  runId?: string;
  /** Run phase 1 only: prepare the dataset and its data report. */
  prepareOnly?: boolean;
}

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `run-${stamp}-${randomBytes(3).toString('hex')}`;
}

export function defaultStoreUri(): string {
  return `file://${DATA_DIR}/artifacts`;
}

/** `durable-vision run`: validates everything first, then runs (or re-attaches to) a pipeline. */
export async function runCommand(options: RunOptions): Promise<number> {
  const logger = createStderrLogger();
  const config = await loadConfig(options.config);
  const store = openStore(options.store ?? defaultStoreUri());
  const runId = options.runId ?? newRunId();
  runKeys(runId);

  const prepareOnly = options.prepareOnly === true;
  return driveWorkflow<typeof trainingPipelineWorkflow | typeof datasetWorkflow>({
    logger,
    label: `run ${runId}`,
    workflowId: runId,
    resumeHint: `'durable-vision run --run-id ${runId}' picks it up again`,
    embeddedWorkers: options.worker !== false,
    startedDetail: `store ${store.baseUri}`,
    start: (session) =>
      prepareOnly
        ? session.client.workflow.start(datasetWorkflow, { taskQueue: CPU_QUEUE, workflowId: runId, args: [{ runId, storeUri: store.baseUri, dataset: config.dataset }] })
        : session.client.workflow.start(trainingPipelineWorkflow, { taskQueue: CPU_QUEUE, workflowId: runId, args: [{ runId, storeUri: store.baseUri, config }] }),
    follow: (handle, signal) => followProgress(handle, process.stderr, signal),
    finish: (result: PipelineResult | DatasetManifest) => {
      if ('evaluation' in result) printSummary(result);
      else process.stderr.write(`\nrun ${runId} prepared the dataset\n${datasetLine(result)}\n  data report       ${result.dataReportUri}\n  manifest          ${result.manifestUri}\n`);
      if (options.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    },
  });
}

function datasetLine(d: DatasetManifest): string {
  const { train, val, test } = d.splits;
  return `  data              ${d.stats.sourceImages} images in: ${d.stats.accepted} accepted (${train.count} train / ${val.count} val / ${test.count} test), ${d.stats.quarantined} quarantined${d.stats.reused ? '; prepared earlier, reused' : ''}`;
}

function printSummary(r: PipelineResult): void {
  const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
  const lines = [
    '',
    `run ${r.runId} finished`,
    datasetLine(r.dataset),
    `  test accuracy     ${pct(r.evaluation.accuracy)} on ${r.evaluation.count} images (macro F1 ${pct(r.evaluation.macroF1)})`,
    `  training          ${r.training.epochsCompleted} epochs on ${r.training.engine}/${r.training.backend}, ${Math.round(r.training.history.at(-1)?.imagesPerSecond ?? 0)} img/s`,
    `  inference         ${Math.round(r.validation.throughputImgPerS)} img/s at batch ${r.validation.batchSize}; batch-1 latency p50 ${r.validation.latencyMs.p50.toFixed(2)} ms, p95 ${r.validation.latencyMs.p95.toFixed(2)} ms; peak RSS ${Math.round(r.validation.peakRssMb)} MB`,
    `  deployment gates  ${r.validation.blessed ? 'all passed' : 'NOT passed'}: ${r.validation.verdicts.map((v) => `${v.gate} ${v.passed ? 'ok' : 'FAILED'}`).join(', ')}`,
    `  report            ${r.reportHtmlUri}`,
    `                    ${r.reportUri}`,
    '',
  ];
  process.stderr.write(lines.join('\n'));
}
