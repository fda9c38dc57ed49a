import { WorkflowNotFoundError } from '@temporalio/client';
import path from 'node:path';
import { createStderrLogger } from '../../activities/logger.js';
import type { ArbitrationRequest } from '../../core/manifests.js';
import { arbitrationSignal } from '../../workflows/prepare-data.js';
import { progressQuery } from '../../workflows/pipeline-workflow.js';
import { openTemporalSession } from '../temporal-session.js';

export interface ArbitrateOptions {
  resolutions?: string;
  thirdAnnotator?: string;
  decision?: string;
}

/** Local paths become absolute (workers resolve them, maybe from another directory); URIs pass through. */
function asUri(value: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : path.resolve(value);
}

/**
 * `durable-vision arbitrate <runId>`: settles a run paused by label QA, with the filled-in
 * arbitration CSV, a third annotator's manifest, or a rule.
 */
export async function arbitrateCommand(runId: string, options: ArbitrateOptions): Promise<number> {
  const given = [options.resolutions, options.thirdAnnotator, options.decision].filter((v) => v !== undefined);
  if (given.length !== 1) {
    process.stderr.write('arbitrate: give exactly one of --resolutions <csv>, --third-annotator <csv> or --decision majority|drop\n');
    return 2;
  }
  const request: ArbitrationRequest = {};
  if (options.resolutions !== undefined) request.resolutionsUri = asUri(options.resolutions);
  if (options.thirdAnnotator !== undefined) request.thirdAnnotatorUri = asUri(options.thirdAnnotator);
  if (options.decision !== undefined) {
    if (options.decision !== 'majority' && options.decision !== 'drop') {
      process.stderr.write(`arbitrate: --decision must be majority or drop, got ${JSON.stringify(options.decision)}\n`);
      return 2;
    }
    request.decision = options.decision;
  }
  const session = await openTemporalSession(createStderrLogger('arbitrate'));
  try {
    const handle = session.client.workflow.getHandle(runId);
    try {
      const progress = await handle.query(progressQuery);
      if (progress.arbitration?.status !== 'waiting') {
        process.stderr.write(`run ${runId} is not waiting for arbitration (phase ${progress.phase}${progress.arbitration ? `, arbitration ${progress.arbitration.status}` : ''})\n`);
        return 1;
      }
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        process.stderr.write(`no run named ${runId} in namespace ${session.namespace} at ${session.address}\n`);
        return 1;
      }
      throw err;
    }
    await handle.signal(arbitrationSignal, request);
    process.stderr.write(`sent arbitration to run ${runId}; \`durable-vision status ${runId}\` shows whether it was accepted\n`);
    return 0;
  } finally {
    await session.close();
  }
}
