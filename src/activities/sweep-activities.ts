/** The sweep's one side effect: its leaderboard, written to the store for people and tools. */
import { checkSweepId, type LeaderboardRow, type TrialStatus } from '../core/sweep-state.js';
import type { StoreCache } from './store-cache.js';

export interface WriteLeaderboardInput {
  sweepId: string;
  storeUri: string;
  metric: string;
  counts: Record<TrialStatus, number> & { total: number };
  stopReason?: string;
  leaderboard: LeaderboardRow[];
}

/** Activities of the sweep workflow, on the `vision-cpu` queue. */
export interface SweepActivities {
  /** Writes `sweeps/<sweepId>/leaderboard.json`; returns its URI. */
  writeSweepLeaderboard(input: WriteLeaderboardInput): Promise<{ leaderboardUri: string }>;
}

export function sweepLeaderboardKey(sweepId: string): string {
  checkSweepId(sweepId);
  return `sweeps/${sweepId}/leaderboard.json`;
}

export function createSweepActivities({ stores }: { stores: StoreCache }): SweepActivities {
  return {
    async writeSweepLeaderboard(input) {
      const store = stores.open(input.storeUri);
      const { storeUri: _storeUri, ...body } = input;
      const info = await store.put(sweepLeaderboardKey(input.sweepId), `${JSON.stringify({ ...body, writtenAt: new Date().toISOString() }, null, 2)}\n`, { contentType: 'application/json' });
      return { leaderboardUri: info.uri };
    },
  };
}
