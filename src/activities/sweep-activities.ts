/**
 * The sweep's side effects: its full leaderboard, written to the store for people and tools, and
 * the parts it is assembled from. A long sweep archives finished trials ranked below its head
 * (see SweepState.archive); their rows go to `sweeps/<id>/trials/part-<n>.json` as they pile up,
 * so neither the workflow's state nor any payload grows with the number of trials.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { checkSweepId, rankRows, type LeaderboardRow, type SweepSettings, type TrialStatus } from '../core/sweep-state.js';
import type { StoreCache } from './store-cache.js';

export interface WriteLeaderboardInput {
  sweepId: string;
  storeUri: string;
  metric: string;
  counts: Record<TrialStatus, number> & { total: number };
  stopReason?: string;
  /** Rows not in a written part: the trials not archived, and archived rows still unwritten. */
  leaderboard: LeaderboardRow[];
  /** Parts already written to `sweeps/<id>/trials/` (0 to n-1); absent: none. */
  archiveParts?: number;
}

export interface WriteTrialsPartInput {
  sweepId: string;
  storeUri: string;
  part: number;
  rows: LeaderboardRow[];
}

/** Activities of the sweep workflow, on the `vision-cpu` queue. */
export interface SweepActivities {
  /** Writes `sweeps/<sweepId>/leaderboard.json` (every trial, ranked); returns its URI. */
  writeSweepLeaderboard(input: WriteLeaderboardInput): Promise<{ leaderboardUri: string }>;
  /** Writes one part of archived trials' rows; writing the same part again replaces it. */
  writeSweepTrialsPart(input: WriteTrialsPartInput): Promise<{ uri: string }>;
}

export function sweepLeaderboardKey(sweepId: string): string {
  checkSweepId(sweepId);
  return `sweeps/${sweepId}/leaderboard.json`;
}

export function sweepTrialsPartKey(sweepId: string, part: number): string {
  checkSweepId(sweepId);
  if (!Number.isSafeInteger(part) || part < 0) throw new RangeError(`part must be an integer >= 0, got ${part}`);
  return `sweeps/${sweepId}/trials/part-${String(part).padStart(5, '0')}.json`;
}

interface TrialsPart {
  format: 'durable-vision/sweep-trials';
  sweepId: string;
  part: number;
  rows: LeaderboardRow[];
}

export function createSweepActivities({ stores }: { stores: StoreCache }): SweepActivities {
  return {
    async writeSweepLeaderboard(input) {
      const store = stores.open(input.storeUri);
      const { storeUri: _storeUri, archiveParts = 0, leaderboard: unarchived, ...body } = input;
      const rows = [...unarchived];
      for (let part = 0; part < archiveParts; part++) {
        const key = sweepTrialsPartKey(input.sweepId, part);
        let parsed: TrialsPart;
        try {
          parsed = JSON.parse((await store.get(key)).toString('utf8')) as TrialsPart;
        } catch (err) {
          throw new Error(`sweep ${input.sweepId}: cannot read archived trials part ${part} (${store.uriOf(key)}): ${(err as Error).message}`, { cause: err });
        }
        if (parsed.format !== 'durable-vision/sweep-trials' || parsed.part !== part || !Array.isArray(parsed.rows)) {
          throw ApplicationFailure.nonRetryable(`sweep ${input.sweepId}: ${store.uriOf(key)} is not part ${part} of this sweep's archived trials`, 'CorruptArtifact');
        }
        rows.push(...parsed.rows);
      }
      const leaderboard = rankRows(rows, input.metric as SweepSettings['metric']);
      const distinct = new Set(leaderboard.map((r) => r.trial)).size;
      if (leaderboard.length !== input.counts.total || distinct !== leaderboard.length) {
        throw ApplicationFailure.nonRetryable(
          `sweep ${input.sweepId}: the leaderboard has ${leaderboard.length} rows for ${distinct} distinct trials, expected ${input.counts.total}`,
          'CorruptArtifact',
        );
      }
      const info = await store.put(sweepLeaderboardKey(input.sweepId), `${JSON.stringify({ ...body, leaderboard, writtenAt: new Date().toISOString() }, null, 2)}\n`, { contentType: 'application/json' });
      return { leaderboardUri: info.uri };
    },
    async writeSweepTrialsPart(input) {
      const store = stores.open(input.storeUri);
      const part: TrialsPart = { format: 'durable-vision/sweep-trials', sweepId: input.sweepId, part: input.part, rows: input.rows };
      const info = await store.put(sweepTrialsPartKey(input.sweepId, input.part), `${JSON.stringify(part)}\n`, { contentType: 'application/json' });
      return { uri: info.uri };
    },
  };
}
