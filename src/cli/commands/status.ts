import { WorkflowNotFoundError } from '@temporalio/client';
import type { PipelineResult } from '../../core/manifests.js';
import { createStderrLogger } from '../../activities/logger.js';
import { progressQuery } from '../../workflows/pipeline-workflow.js';
import { openTemporalSession } from '../temporal-session.js';
import { describeFailure } from '../failure-text.js';

/** `durable-vision status <runId>`: state, progress and, once finished, the headline figures. */
export async function statusCommand(runId: string, options: { json?: boolean }): Promise<number> {
  const session = await openTemporalSession(createStderrLogger('status'));
  try {
    const handle = session.client.workflow.getHandle(runId);
    let description;
    try {
      description = await handle.describe();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) {
        process.stderr.write(`no run named ${runId} in namespace ${session.namespace} at ${session.address}\n`);
        return 1;
      }
      throw err;
    }
    const status = description.status.name;
    const out: Record<string, unknown> = { runId, status, startTime: description.startTime, closeTime: description.closeTime };
    if (status === 'RUNNING') {
      out.progress = await Promise.race([
        handle.query(progressQuery),
        new Promise((resolve) => setTimeout(() => resolve('no worker answered within 5 s; start one with `durable-vision worker`'), 5000)),
      ]);
    } else if (status === 'COMPLETED') {
      const result = (await handle.result()) as PipelineResult;
      out.accuracy = result.evaluation.accuracy;
      out.throughputImgPerS = result.validation.throughputImgPerS;
      out.blessed = result.validation.blessed;
      out.reportUri = result.reportUri;
      out.reportHtmlUri = result.reportHtmlUri;
    } else if (status === 'FAILED') {
      out.failure = await handle.result().then(
        () => undefined,
        (err: unknown) => describeFailure(err),
      );
    }
    process.stdout.write(options.json ? `${JSON.stringify(out, null, 2)}\n` : `${Object.entries(out).map(([k, v]) => `${k}: ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)}`).join('\n')}\n`);
    return 0;
  } finally {
    await session.close();
  }
}
