import { createStderrLogger } from '../../activities/logger.js';
import { openTemporalSession } from '../temporal-session.js';

/** `durable-vision dev`: the local Temporal server alone, for standalone workers and `status`. */
export async function devCommand(options: { port: string; uiPort: string }): Promise<number> {
  const logger = createStderrLogger('dev');
  delete process.env.TEMPORAL_ADDRESS;
  const session = await openTemporalSession(logger, { port: Number(options.port), uiPort: Number(options.uiPort) });
  process.stderr.write(`Temporal is listening on ${session.address} (Web UI ${session.uiUrl}).\nIn another shell: TEMPORAL_ADDRESS=${session.address} durable-vision worker\nCtrl-C stops the server; its data stays in .data/temporal.\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await session.close();
  return 0;
}
