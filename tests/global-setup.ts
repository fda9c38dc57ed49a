import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { startSeaweedFs } from '../infra/seaweedfs.js';
import { PROJECT_ROOT, temporalCliPath } from '../infra/tools.js';

/** What integration tests get from `inject('dvS3')`: a running SeaweedFS S3 and its bucket. */
export interface TestS3 {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
  bucket: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** Undefined when the run holds only unit tests (no servers were started). */
    dvS3: TestS3 | undefined;
    /** Path of the Temporal CLI; tests start their own dev servers with it. */
    dvTemporalCli: string | undefined;
  }
}

/**
 * Starts one SeaweedFS for the whole run (about 5 s) and hands its coordinates to tests both via
 * `provide` and via `DV_TEST_*` environment variables, which forked workers inherit. Runs that
 * hold only unit tests skip it all, so `vitest run tests/unit` stays instant.
 */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (!needsServers()) {
    project.provide('dvS3', undefined);
    project.provide('dvTemporalCli', undefined);
    return undefined;
  }
  installTools();
  const temporalCli = temporalCliPath();
  const dir = mkdtempSync(path.join(tmpdir(), 'dv-test-s3-'));
  const started = Date.now();
  const server = await startSeaweedFs({ dir, bucket: 'dv-test' });
  const s3: TestS3 = {
    endpoint: server.endpoint,
    accessKey: server.accessKey,
    secretKey: server.secretKey,
    region: server.region,
    bucket: server.bucket,
  };
  console.log(`global-setup: SeaweedFS S3 at ${s3.endpoint} (bucket ${s3.bucket}) in ${Date.now() - started} ms`);
  project.provide('dvS3', s3);
  project.provide('dvTemporalCli', temporalCli);
  Object.assign(process.env, {
    DV_TEST_S3_ENDPOINT: s3.endpoint,
    DV_TEST_S3_ACCESS_KEY: s3.accessKey,
    DV_TEST_S3_SECRET_KEY: s3.secretKey,
    DV_TEST_S3_REGION: s3.region,
    DV_TEST_S3_BUCKET: s3.bucket,
    DV_TEST_TEMPORAL_CLI: temporalCli,
  });
  return async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}

/**
 * `DV_TEST_SERVERS=0|1` decides; otherwise servers start unless every file filter on the
 * command line lies under tests/unit.
 */
function needsServers(): boolean {
  const forced = process.env.DV_TEST_SERVERS;
  if (forced === '0' || forced === '1') return forced === '1';
  // An option's value (`--reporter json`) counts as a filter here; that only ever starts
  // servers a run did not need, never skips ones it did.
  const filters = process.argv.slice(2).filter((arg) => !arg.startsWith('-') && !['run', 'watch', 'related', 'dev'].includes(arg));
  return filters.length === 0 || !filters.every((filter) => /^(\.\/)?tests\/unit(\/|$)/.test(filter));
}

/** Idempotent and quick when the pinned tools are present; builds SeaweedFS when missing. */
function installTools(): void {
  const result = spawnSync(process.execPath, [path.join(PROJECT_ROOT, 'scripts', 'install-tools.mjs'), '--with-s3'], {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (result.status !== 0) {
    throw new Error(`global-setup: scripts/install-tools.mjs --with-s3 failed (exit ${String(result.status ?? result.signal)}); run \`npm run tools -- --with-s3\` to see why`);
  }
}
