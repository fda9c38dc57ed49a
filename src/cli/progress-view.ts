import { defaultPayloadConverter } from '@temporalio/common';
import type { WorkflowHandle } from '@temporalio/client';
import type { PipelineProgress } from '../core/manifests.js';
import { progressQuery } from '../workflows/pipeline-workflow.js';
import type { TrainingHeartbeat } from '../activities/gpu-activities.js';

const PHASE_TITLES: Record<string, string> = {
  prepare: '1/5 prepare data',
  arbitration: '1/5 waiting for label arbitration',
  select: '2/5 select model',
  train: '3/5 train',
  evaluate: '4/5 evaluate',
  validate: '5/5 validate for deployment',
  report: 'report',
};

/**
 * Follows a running pipeline on stderr: phase changes, an epoch bar fed by the training
 * heartbeat, and each finished epoch's metrics. Stops when `signal` aborts.
 */
export async function followProgress(handle: WorkflowHandle, stream: NodeJS.WriteStream, signal: AbortSignal, intervalMs = 1000): Promise<void> {
  const tty = stream.isTTY === true;
  const shown = new Set<string>();
  let lastEpochLine = 0;
  let lastAttempt = 0;
  let barShown = false;
  let lastArbitrationLine = '';
  let lastChunks = -1;
  const clearBar = () => {
    if (barShown) stream.write('\r\x1b[2K');
    barShown = false;
  };
  for (;;) {
    // After the stop, one last poll names whatever happened since the previous one.
    const last = signal.aborted;
    const progress = await handle.query(progressQuery).catch(() => undefined);
    if (progress) {
      if (progress.prepare && progress.prepare.chunksDone !== lastChunks) {
        lastChunks = progress.prepare.chunksDone;
        clearBar();
        stream.write(`  decoded ${lastChunks}/${progress.prepare.chunks} chunks\n`);
      }
      // Phases that came and went between two polls are still named, in order.
      for (const phase of [...progress.completed, progress.phase]) {
        if (shown.has(phase) || !PHASE_TITLES[phase]) continue;
        shown.add(phase);
        clearBar();
        stream.write(`[${PHASE_TITLES[phase]}]\n`);
      }
      if (progress.phase === 'arbitration' && progress.arbitration) {
        const a = progress.arbitration;
        const line = `  ${a.conflicted}/${a.multiplyAnnotated} double-annotated images conflict (${(a.conflictRate * 100).toFixed(1)}% > ${(a.threshold * 100).toFixed(1)}%): resolve ${a.arbitrationUri}, then \`durable-vision arbitrate ${progress.runId} --resolutions <file>\`${a.error ? `; last attempt refused: ${a.error}` : ''}`;
        if (line !== lastArbitrationLine) {
          clearBar();
          stream.write(`${line}\n`);
          lastArbitrationLine = line;
        }
      }
      if (progress.trainingAttempt > 1 && progress.trainingAttempt !== lastAttempt) {
        clearBar();
        stream.write(`  training attempt ${progress.trainingAttempt} resumed from the last checkpoint\n`);
      }
      lastAttempt = progress.trainingAttempt;
      if (progress.latest && progress.latest.epoch !== lastEpochLine) {
        clearBar();
        stream.write(`  ${epochLine(progress)}\n`);
        lastEpochLine = progress.latest.epoch;
      }
      if (tty && progress.phase === 'train') {
        const beat = await trainingHeartbeat(handle);
        if (beat?.batches) {
          clearBar();
          stream.write(bar(beat, progress.epochs));
          barShown = true;
        }
      }
    }
    if (last) break;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  clearBar();
}

function epochLine(p: PipelineProgress): string {
  const m = p.latest;
  if (!m) return '';
  const pct = (x: number | undefined) => (x === undefined ? '—' : `${(x * 100).toFixed(2)}%`);
  return `epoch ${m.epoch}/${p.epochs}  loss ${m.loss.toFixed(4)}  acc ${pct(m.accuracy)}  val acc ${pct(m.valAccuracy)}  ${Math.round(m.imagesPerSecond)} img/s  ${m.seconds.toFixed(1)} s`;
}

function bar(beat: TrainingHeartbeat, epochs: number): string {
  const width = 30;
  const done = (beat.batch ?? 0) / Math.max(1, beat.batches ?? 1);
  const filled = Math.round(done * width);
  return `  epoch ${beat.epoch + 1}/${epochs} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${beat.batch}/${beat.batches} batches`;
}

async function trainingHeartbeat(handle: WorkflowHandle): Promise<TrainingHeartbeat | undefined> {
  try {
    const description = await handle.describe();
    const pending = description.raw.pendingActivities?.find((a) => a.activityType?.name === 'trainModel');
    const payload = pending?.heartbeatDetails?.payloads?.[0];
    return payload ? defaultPayloadConverter.fromPayload<TrainingHeartbeat>(payload) : undefined;
  } catch {
    return undefined;
  }
}
