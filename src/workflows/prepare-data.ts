/**
 * Phase 1 as workflow steps: list the sources and check double annotations, wait for
 * arbitration when annotators disagree too often, decode in chunks (a crash resumes after the
 * last finished chunk), clean, write the split shards, then the manifest.
 */
import { ActivityFailure, ApplicationFailure, condition, defineQuery, defineSignal, proxyActivities, setHandler } from '@temporalio/workflow';
import type { ChunkSummary, DataActivities } from '../activities/types.js';
import type { DatasetConfig } from '../core/config.js';
import type { ArbitrationRequest, DatasetManifest, LabelPlan, PipelineProgress } from '../core/manifests.js';
import { DATA_ACTIVITY } from './activity-options.js';

/** Current phase, epoch and latest metrics (a pipeline's, or phase 1's in a dataset workflow or a sweep). */
export const progressQuery = defineQuery<PipelineProgress>('progress');

/** Resolves a paused label QA: a filled-in arbitration file, a third annotator, or a rule. */
export const arbitrationSignal = defineSignal<[ArbitrationRequest]>('arbitration');

export interface PrepareDataContext {
  runId: string;
  storeUri: string;
  dataset: DatasetConfig;
  progress: PipelineProgress;
  /** Told when the run starts and stops waiting for arbitration. */
  onArbitration?: (waiting: boolean) => void;
}

const HOUR_MS = 3_600_000;
/**
 * Runs started before `dataset.heartbeatTimeoutSeconds` existed carry configs without it; their
 * histories must replay with the value they ran with.
 */
const DEFAULT_HEARTBEAT_SECONDS = 120;

export async function prepareData({ runId, storeUri, dataset, progress, onArbitration }: PrepareDataContext): Promise<DatasetManifest> {
  const data = proxyActivities<DataActivities>({ ...DATA_ACTIVITY, heartbeatTimeout: `${dataset.heartbeatTimeoutSeconds ?? DEFAULT_HEARTBEAT_SECONDS} seconds` });
  const requests: ArbitrationRequest[] = [];
  setHandler(arbitrationSignal, (request) => {
    requests.push(request);
  });

  const ctx = { runId, storeUri };
  const started = Date.now();
  const listing = await data.listDataset({ ...ctx, dataset });
  if (listing.reused) return listing.reused;

  const qa = listing.labelQa;
  const needsArbitration = qa.multiplyAnnotated > 0 && qa.conflictRate > dataset.labelQa.conflictThreshold;
  // Decoding does not depend on labels, so it goes on while the run waits for arbitration.
  const decoding = decodeChunks();
  // Awaited below; until then a failure must not count as unhandled.
  decoding.catch(() => undefined);
  let labels: LabelPlan = { rule: dataset.labelQa.rule, how: qa.conflicted > 0 ? `rule:${dataset.labelQa.rule}` : 'none', paused: false };
  if (needsArbitration) {
    onArbitration?.(true);
    labels = await awaitArbitration();
    onArbitration?.(false);
  }
  const chunkSummaries = await decoding;

  const cleaned = await data.cleanDataset({ ...ctx, dataset, listing, chunks: chunkSummaries, labels });
  const write = (split: 'train' | 'val' | 'test') => data.writeSplitShards({ ...ctx, dataset, listing, cleaned, split });
  const [train, val, test] = await Promise.all([write('train'), write('val'), write('test')]);
  const manifest = await data.finaliseDataset({ ...ctx, dataset, listing, labels, cleaned, splits: { train, val, test } });
  return { ...manifest, stats: { ...manifest.stats, seconds: (Date.now() - started) / 1000 } };

  async function decodeChunks(): Promise<ChunkSummary[]> {
    const prepare = { chunks: listing.chunks, chunksDone: 0 };
    progress.prepare = prepare;
    const summaries = new Array<ChunkSummary>(listing.chunks);
    let next = 0;
    const lane = async () => {
      while (next < listing.chunks) {
        const chunk = next++;
        summaries[chunk] = await data.prepareChunk({ ...ctx, dataset, listing: { prefix: listing.prefix, fingerprint: listing.fingerprint, classes: listing.classes, chunkSize: listing.chunkSize }, chunk });
        prepare.chunksDone++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(dataset.parallelChunks, listing.chunks) }, lane));
    return summaries;
  }

  async function awaitArbitration(): Promise<LabelPlan> {
    const deadline = Date.now() + dataset.labelQa.arbitrationTimeoutHours * HOUR_MS;
    progress.arbitration = {
      status: 'waiting',
      conflicted: qa.conflicted,
      multiplyAnnotated: qa.multiplyAnnotated,
      conflictRate: qa.conflictRate,
      threshold: dataset.labelQa.conflictThreshold,
      arbitrationUri: listing.arbitrationUri ?? '',
      timeoutHours: dataset.labelQa.arbitrationTimeoutHours,
    };
    for (;;) {
      const arrived = await condition(() => requests.length > 0, Math.max(1, deadline - Date.now()));
      if (!arrived) {
        const policy = dataset.labelQa.onTimeout;
        progress.arbitration.status = 'timed-out';
        if (policy === 'fail') {
          throw ApplicationFailure.nonRetryable(
            `label QA: ${qa.conflicted} of ${qa.multiplyAnnotated} double-annotated images (${(qa.conflictRate * 100).toFixed(1)}%) have conflicting labels, above the ${(dataset.labelQa.conflictThreshold * 100).toFixed(1)}% threshold, and no arbitration arrived within ${dataset.labelQa.arbitrationTimeoutHours} h (conflicts listed in ${listing.arbitrationUri ?? 'the arbitration file'})`,
            'LabelConflictError',
          );
        }
        return { rule: policy, how: `timeout:${policy}`, paused: true };
      }
      const request = requests.shift() as ArbitrationRequest;
      progress.arbitration.status = 'checking';
      try {
        const applied = await data.applyArbitration({ ...ctx, listing, request });
        progress.arbitration.status = 'resolved';
        progress.arbitration.error = undefined;
        return { ...applied, paused: true };
      } catch (err) {
        // A bad arbitration file must not end a run that waited days for it: say why and wait on.
        const cause = err instanceof ActivityFailure && err.cause ? err.cause.message : err instanceof Error ? err.message : String(err);
        progress.arbitration.status = 'waiting';
        progress.arbitration.error = cause;
      }
    }
  }
}

export interface DatasetWorkflowInput {
  runId: string;
  storeUri: string;
  dataset: DatasetConfig;
}
