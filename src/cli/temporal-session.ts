import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Connection, Client } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { startTemporalDevServer } from '../../infra/temporal-dev-server.js';
import type { Logger } from '../activities/logger.js';

export interface TemporalSession {
  address: string;
  namespace: string;
  client: Client;
  /** Set when this process started a dev server. */
  uiUrl?: string;
  workerConnection(): Promise<NativeConnection>;
  close(): Promise<void>;
}

export const DATA_DIR = resolve(process.env.DV_DATA_DIR ?? '.data');

/**
 * Connects to `TEMPORAL_ADDRESS` when set; otherwise starts the Temporal CLI dev server with
 * its SQLite file under `.data/`, so runs and their history survive a restart.
 */
export async function openTemporalSession(logger: Logger, options: { port?: number; uiPort?: number } = {}): Promise<TemporalSession> {
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  let address = process.env.TEMPORAL_ADDRESS;
  let stopServer: (() => Promise<void>) | undefined;
  let uiUrl: string | undefined;
  if (!address) {
    await mkdir(resolve(DATA_DIR, 'temporal'), { recursive: true });
    const server = await startTemporalDevServer({
      dbFile: resolve(DATA_DIR, 'temporal', 'dev-server.sqlite'),
      port: options.port,
      uiPort: options.uiPort,
      namespace,
    });
    address = server.address;
    uiUrl = server.uiUrl;
    stopServer = server.stop;
    logger.info(`Temporal dev server at ${address}; Web UI ${uiUrl}`);
  } else {
    logger.info(`using Temporal at ${address} (namespace ${namespace})`);
  }
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace });
  const nativeConnections: NativeConnection[] = [];
  return {
    address,
    namespace,
    client,
    uiUrl,
    async workerConnection() {
      const c = await NativeConnection.connect({ address });
      nativeConnections.push(c);
      return c;
    },
    async close() {
      await Promise.all(nativeConnections.map((c) => c.close()));
      await connection.close();
      await stopServer?.();
    },
  };
}
