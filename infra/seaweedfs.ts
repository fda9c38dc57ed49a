import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  ListBucketsCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { startManagedProcess, waitUntilReady, type ServerLog } from './managed-process.js';
import { freePorts } from './net.js';
import { weedPath } from './tools.js';

const HOST = '127.0.0.1';
/** mini stops in about 3 s; past this it is stuck, and a test run should not wait on it. */
const STOP_GRACE_MS = 8_000;

export interface SeaweedFsOptions {
  /** Data folder (volumes, filer metadata, the S3 identities file). Reusing it keeps the data. */
  dir: string;
  /** S3 port. Defaults to a free port. */
  s3Port?: number;
  /** Defaults to `durable-vision`. */
  accessKey?: string;
  /** Defaults to `durable-vision-secret`. */
  secretKey?: string;
  /** Bucket created before returning. Defaults to `durable-vision`. */
  bucket?: string;
  /** Receives server output lines. Defaults to dropping them (the tail still goes into errors). */
  log?: ServerLog;
  /** Defaults to 60 s. */
  startTimeoutMs?: number;
  /** `weed` binary. Defaults to {@link weedPath}. */
  weedBin?: string;
}

export interface SeaweedFs {
  /** `http://127.0.0.1:<port>`; S3 clients must use path-style addressing against it. */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  /** SeaweedFS ignores regions; signing still needs one. */
  region: string;
  bucket: string;
  /** Stops SeaweedFS (SIGTERM, SIGKILL after 8 s) and waits for the process to exit. */
  stop(): Promise<void>;
}

/**
 * Runs `weed mini` (master, volume, filer and S3 gateway in one process) on 127.0.0.1 and
 * resolves once the bucket exists and accepts a write.
 */
export async function startSeaweedFs(options: SeaweedFsOptions): Promise<SeaweedFs> {
  const accessKey = options.accessKey ?? 'durable-vision';
  const secretKey = options.secretKey ?? 'durable-vision-secret';
  const bucket = options.bucket ?? 'durable-vision';
  const region = 'us-east-1';
  const dir = path.resolve(options.dir);
  mkdirSync(dir, { recursive: true });

  // Without an identities file SeaweedFS's S3 gateway accepts anonymous requests, which would
  // hide signing mistakes in the S3 store; with one, it checks signatures like AWS does.
  const identitiesFile = path.join(dir, 's3-identities.json');
  const identities = {
    identities: [{ name: 'durable-vision', credentials: [{ accessKey, secretKey }], actions: ['Admin', 'Read', 'List', 'Tagging', 'Write'] }],
  };
  writeFileSync(identitiesFile, `${JSON.stringify(identities, null, 2)}\n`);

  const ports = await freePorts(10, HOST);
  const port = (i: number): string => String(ports[i]);
  const s3Port = options.s3Port ?? ports[0];
  // `weed mini` runs master, volume, filer and S3 in one process tuned for small setups: it
  // accepts writes about 3 s after start where `weed server -s3` needs about 11 s (its filer
  // waits for cluster membership before the S3 write lock works), and it stops on SIGTERM in
  // about 3 s where `weed server` hangs in filer shutdown until SIGKILL.
  const args = [
    'mini',
    `-dir=${dir}`,
    `-ip=${HOST}`,
    `-ip.bind=${HOST}`,
    `-master.port=${port(1)}`,
    `-master.port.grpc=${port(2)}`,
    `-volume.port=${port(3)}`,
    `-volume.port.grpc=${port(4)}`,
    `-filer.port=${port(5)}`,
    `-filer.port.grpc=${port(6)}`,
    `-s3.port=${String(s3Port)}`,
    `-s3.port.grpc=${port(7)}`,
    `-s3.config=${identitiesFile}`,
    // Every component left at its default port would collide with a second run side by side,
    // so each one gets a free port or is switched off.
    '-admin.ui=false',
    `-admin.port=${port(8)}`,
    `-admin.port.grpc=${port(9)}`,
    '-admin.port.legacy=0',
    '-webdav=false',
    '-s3.port.iceberg=0',
    '-s3.port.lance=0',
    '-master.telemetry=false',
    // Small volumes and few of them keep disk and memory modest; the default lets mini size
    // volumes from free disk space, up to 1 GB each.
    '-master.volumeSizeLimitMB=64',
    '-volume.max=32',
    '-volume.preStopSeconds=0',
  ];

  const endpoint = `http://${HOST}:${String(s3Port)}`;
  const proc = startManagedProcess({
    name: 'weed',
    command: options.weedBin ?? weedPath(),
    args,
    cwd: dir,
    log: options.log,
    // mini's banner once every component is up, e.g. "    S3 Endpoint:     http://127.0.0.1:8333".
    readyLine: new RegExp(`S3 Endpoint:\\s+http://${HOST.replace(/\./g, '\\.')}:${String(s3Port)}\\s*$`),
  });
  const client = new S3Client({ endpoint, region, forcePathStyle: true, credentials: { accessKeyId: accessKey, secretAccessKey: secretKey } });
  const what = `SeaweedFS S3 (${endpoint}, dir ${dir})`;
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  try {
    await waitUntilReady(proc, what, async () => proc.readyLineSeen && (await client.send(new ListBucketsCommand({}))) !== undefined, timeoutMs);
    await waitUntilReady(proc, `${what} creating bucket ${bucket}`, () => ensureBucket(client, bucket), timeoutMs);
    // The gateway answers before the master has grown volumes for the bucket's collection; the
    // first write would wait for that, so wait here, where a timeout names the cause.
    await waitUntilReady(proc, `${what} first write to ${bucket}`, () => probeWrite(client, bucket), timeoutMs);
  } catch (error) {
    await proc.stop();
    throw error;
  } finally {
    client.destroy();
  }
  const stop = async (): Promise<void> => {
    await proc.stop(STOP_GRACE_MS);
    removeStaleSockets([...ports, s3Port]);
  };
  return { endpoint, accessKey, secretKey, region, bucket, stop };
}

/**
 * SeaweedFS also listens on `/tmp/seaweedfs-<component>-<port>.sock` and removes those files
 * only on a clean exit; after a SIGKILL they pile up in /tmp. The ports are ours, so are they.
 */
function removeStaleSockets(ports: readonly (number | undefined)[]): void {
  const wanted = new Set(ports.filter((p): p is number => p !== undefined).map(String));
  for (const dir of new Set(['/tmp', tmpdir()])) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      const match = /^seaweedfs-[a-z0-9-]+?-(\d+)\.sock$/.exec(name);
      if (match?.[1] !== undefined && wanted.has(match[1])) rmSync(path.join(dir, name), { force: true });
    }
  }
}

async function ensureBucket(client: S3Client, bucket: string): Promise<boolean> {
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const alreadyThere = error instanceof S3ServiceException && (error.name === 'BucketAlreadyOwnedByYou' || error.name === 'BucketAlreadyExists');
    if (!alreadyThere) throw error;
  }
  return true;
}

async function probeWrite(client: S3Client, bucket: string): Promise<boolean> {
  const key = '.seaweedfs-ready-probe';
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'ok' }));
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  return true;
}
