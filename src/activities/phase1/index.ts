/** Phase-1 activities, wired with the worker's stores and one decode pool shared by every chunk. */
import { autoWorkers } from '../../data/decode-many.js';
import { DecodePool } from '../../data/decode-pool.js';
import type { Logger } from '../logger.js';
import type { StoreCache } from '../store-cache.js';
import type { DataActivities } from '../types.js';
import { createApplyArbitration } from './apply-arbitration.js';
import { createCleanDataset } from './clean-dataset.js';
import { createFinaliseDataset } from './finalise-dataset.js';
import { createListDataset } from './list-dataset.js';
import { createPrepareChunk } from './prepare-chunk.js';
import { createWriteSplitShards } from './write-split.js';

export { DatasetError } from './errors.js';

export interface DataActivityDeps {
  stores: StoreCache;
  logger: Logger;
  /** Decode worker threads; defaults to `autoWorkers()` (one per core but one, at least one). */
  decodeWorkers?: number;
}

export function createDataActivities({ stores, logger, decodeWorkers }: DataActivityDeps): DataActivities {
  let pool: DecodePool | undefined;
  // Started on first use and kept for the worker's life (its threads are unref'd, so they never
  // hold the process open): starting threads costs more than decoding a small chunk.
  const sharedPool = () => (pool ??= new DecodePool(decodeWorkers ?? autoWorkers()));
  return {
    listDataset: createListDataset({ stores, logger }),
    applyArbitration: createApplyArbitration({ stores, logger }),
    prepareChunk: createPrepareChunk({ stores, pool: sharedPool }),
    cleanDataset: createCleanDataset({ stores, logger }),
    writeSplitShards: createWriteSplitShards({ stores }),
    finaliseDataset: createFinaliseDataset({ stores, logger }),
  };
}
