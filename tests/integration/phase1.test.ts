/**
 * Phase 1 on a real Temporal server with real images: MNIST PNGs, the scikit-image sample
 * photos and generated bad files of every quarantine kind, from a local folder and a CSV
 * manifest on the real S3 server; and double annotation that does (8%) and does not (3%)
 * pause the workflow for arbitration.
 */
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { encode } from 'fast-png';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleDataPath } from '../../infra/tools.js';
import { silentLogger } from '../../src/activities/logger.js';
import { parsePipelineConfig, type DatasetConfig } from '../../src/core/config.js';
import type { DataReport, DatasetManifest, PipelineProgress, QuarantineReason } from '../../src/core/manifests.js';
import { CPU_QUEUE } from '../../src/core/task-queues.js';
import { readMnistSplit } from '../../src/data/mnist-idx.js';
import { readShards } from '../../src/data/shards.js';
import { openStore } from '../../src/storage/open-store.js';
import { createWorkers, workflowBundle } from '../../src/workers/create-workers.js';
import { arbitrationSignal } from '../../src/workflows/prepare-data.js';
import { datasetWorkflow, progressQuery } from '../../src/workflows/pipeline-workflow.js';
import { stopSweepSignal, sweepStatusQuery, sweepWorkflow } from '../../src/workflows/sweep-workflow.js';
import { badImages } from '../support/bad-images.js';
import { testS3StoreUri } from './support/s3.js';
import { startTemporal, withWorkers } from './support/temporal.js';

function datasetConfig(raw: Record<string, unknown>): DatasetConfig {
  return parsePipelineConfig({ dataset: raw }).dataset;
}

async function readText(uri: string): Promise<string> {
  const cut = uri.lastIndexOf('/');
  return (await openStore(uri.slice(0, cut)).get(uri.slice(cut + 1))).toString('utf8');
}

let mnist: Awaited<ReturnType<typeof readMnistSplit>>;
function mnistPng(index: number): Uint8Array {
  const { pixels, rows, cols } = mnist;
  return encode({ width: cols, height: rows, channels: 1, depth: 8, data: pixels.subarray(index * rows * cols, (index + 1) * rows * cols) });
}

describe('phase 1 on real data', () => {
  let env: TestWorkflowEnvironment;
  let dir: string;

  beforeAll(async () => {
    env = await startTemporal();
    dir = await mkdtemp(join(tmpdir(), 'dv-phase1-'));
    mnist = await readMnistSplit('test');
  });
  afterAll(async () => {
    await env?.teardown();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function withDataWorkers<T>(fn: () => Promise<T>): Promise<T> {
    const workers = await createWorkers({ connection: env.nativeConnection, queues: [CPU_QUEUE], logger: silentLogger, workflowBundle: await workflowBundle() });
    return withWorkers(workers, fn);
  }

  async function prepare(runId: string, storeUri: string, dataset: DatasetConfig) {
    return withDataWorkers(async () => {
      const handle = await env.client.workflow.start(datasetWorkflow, { taskQueue: CPU_QUEUE, workflowId: runId, args: [{ runId, storeUri, dataset }] });
      return { manifest: await handle.result(), handle };
    });
  }

  async function quarantineList(manifest: DatasetManifest) {
    const report = JSON.parse(await readText(manifest.dataReportUri)) as DataReport;
    const lines = (await readText(report.quarantineListUri)).trim().split('\n').filter(Boolean);
    return { report, list: lines.map((l) => JSON.parse(l) as { uri: string; reason: QuarantineReason; detail: string }) };
  }

  it('quarantines every bad file with its reason, merges a local folder with a CSV on S3, and accounts for every input', async () => {
    // Source 1: a local ImageFolder of MNIST digits, real photos, and bad files of every kind.
    const folder = join(dir, 'folder');
    for (const c of ['digit', 'photo']) await mkdir(join(folder, c), { recursive: true });
    for (let i = 0; i < 40; i++) await writeFile(join(folder, 'digit', `d${i}.png`), mnistPng(i));
    const photos = (await readdir(join(sampleDataPath('skimage', 'astronaut.png'), '..'))).filter((f) => /\.(png|jpe?g)$/.test(f) && f !== 'truncated.jpg');
    for (const f of photos) await copyFile(sampleDataPath('skimage', f), join(folder, 'photo', f));
    const bad = await badImages();
    for (const b of bad) await writeFile(join(folder, 'digit', `bad-${b.name}`), b.bytes);
    await copyFile(sampleDataPath('skimage', 'truncated.jpg'), join(folder, 'photo', 'truncated.jpg'));
    // An exact duplicate of a digit, and a re-encoded, brightened copy of a photo.
    await writeFile(join(folder, 'digit', 'copy-of-d0.png'), mnistPng(0));
    await sharp(sampleDataPath('skimage', 'chelsea.png')).modulate({ brightness: 1.1 }).jpeg({ quality: 70 }).toFile(join(folder, 'photo', 'chelsea-copy.jpg'));
    // Source 3: a folder with its own test split, one of whose images was also copied into train.
    const held = join(dir, 'held-out');
    for (const s of ['train', 'test']) await mkdir(join(held, s, 'digit'), { recursive: true });
    for (let i = 0; i < 10; i++) await writeFile(join(held, 'train', 'digit', `t${i}.png`), mnistPng(200 + i));
    for (let i = 0; i < 5; i++) await writeFile(join(held, 'test', 'digit', `h${i}.png`), mnistPng(300 + i));
    await writeFile(join(held, 'train', 'digit', 'leaked.png'), mnistPng(300));

    // Source 2: a CSV manifest on S3 naming S3 images, with a traversal attempt and a missing file.
    const s3Uri = testS3StoreUri('phase1-csv');
    const s3 = openStore(s3Uri);
    for (let i = 40; i < 60; i++) await s3.put(`images/s${i}.png`, mnistPng(i));
    const rows = ['path,label', ...Array.from({ length: 20 }, (_, k) => `images/s${40 + k}.png,digit`), '../../etc/passwd,digit', 'images/missing.png,digit'];
    await s3.put('labels.csv', rows.join('\n'));

    const dataset = datasetConfig({
      sources: [
        { kind: 'image-folder', uri: folder, tag: 'local' },
        { kind: 'csv', uri: `${s3Uri}/labels.csv`, tag: 's3-csv' },
        { kind: 'image-folder', uri: held, tag: 'held-out' },
      ],
      inputShape: [64, 64, 3],
      chunkSize: 16,
      parallelChunks: 3,
      quarantine: { maxFraction: 0.6 },
      outliers: { contamination: 0 },
      split: { val: 0.1, test: 0.2, seed: 3 },
    });
    const storeUri = `file://${dir}/store-a`;
    const { manifest } = await prepare('phase1-messy', storeUri, dataset);
    const { report, list } = await quarantineList(manifest);

    const inputs = 40 + photos.length + bad.length + 1 + 1 + 1 + 20 + 2 + 10 + 5 + 1;
    expect(report.inputCount).toBe(inputs);
    expect(report.accepted + report.quarantined).toBe(inputs);
    expect(list).toHaveLength(report.quarantined);
    const reasonOf = (name: string) => list.find((q) => q.uri.endsWith(name))?.reason;
    for (const b of bad) expect({ file: b.name, reason: reasonOf(`bad-${b.name}`) }).toEqual({ file: b.name, reason: b.reason });
    expect(reasonOf('truncated.jpg')).toBe('truncated');
    expect(reasonOf('passwd')).toBe('path-traversal');
    expect(reasonOf('missing.png')).toBe('unreadable');
    expect([reasonOf('d0.png'), reasonOf('copy-of-d0.png')].filter(Boolean)).toEqual(['duplicate']);
    expect([reasonOf('chelsea.png'), reasonOf('chelsea-copy.jpg')].filter(Boolean)).toEqual(['near-duplicate']);
    // The held-out test copy stays; the training copy is quarantined as leakage.
    expect(reasonOf('test/digit/h0.png')).toBeUndefined();
    expect(reasonOf('leaked.png')).toBe('leakage');
    expect(manifest.splits.test.count).toBe(5);
    // The sample photos hold a real pair too: the same chessboard saved as grey and as RGB.
    expect([reasonOf('chessboard_GRAY.png'), reasonOf('chessboard_RGB.png')].filter(Boolean)).toEqual(['near-duplicate']);
    expect(report.duplicates).toMatchObject({ exact: 1, near: 2, leakage: 1 });
    expect(report.sources.map((s) => s.tag).sort()).toEqual(['held-out', 'local', 's3-csv']);
    expect(manifest.classes).toEqual(['digit', 'photo']);

    const splitTotal = manifest.splits.train.count + manifest.splits.val.count + manifest.splits.test.count;
    expect(splitTotal).toBe(report.accepted);
    const train = await readShards(openStore(storeUri), manifest.splits.train.indexUri);
    expect(train.shape).toEqual([64, 64, 3]);
    // Thumbnails of decodable quarantined images are in the report.
    expect(report.quarantine.find((q) => q.reason === 'duplicate')?.examples[0]?.thumbnail).toMatch(/^data:image\/png;base64,/);

    // An unchanged dataset is not prepared again.
    const again = await prepare('phase1-messy-again', storeUri, dataset);
    expect(again.manifest.stats.reused).toBe(true);
    expect(again.manifest.fingerprint).toBe(manifest.fingerprint);
  });

  /** 100 MNIST images labelled by two annotators who disagree on `conflicts` of them. */
  async function doubleAnnotated(name: string, conflicts: number, labelQa: Record<string, unknown> = {}) {
    const root = join(dir, name);
    await mkdir(join(root, 'img'), { recursive: true });
    const truth = (i: number) => (i % 2 === 0 ? 'even' : 'odd');
    const other = (i: number) => (i % 2 === 0 ? 'odd' : 'even');
    const alice = ['path,label,annotator'];
    const bob = ['path,label,annotator'];
    for (let i = 0; i < 100; i++) {
      await writeFile(join(root, 'img', `${i}.png`), mnistPng(100 + i));
      alice.push(`img/${i}.png,${truth(i)},alice`);
      bob.push(`img/${i}.png,${i < conflicts ? other(i) : truth(i)},bob`);
    }
    await writeFile(join(root, 'alice.csv'), alice.join('\n'));
    await writeFile(join(root, 'bob.csv'), bob.join('\n'));
    return datasetConfig({
      sources: [
        { kind: 'csv', uri: join(root, 'alice.csv') },
        { kind: 'csv', uri: join(root, 'bob.csv') },
      ],
      chunkSize: 32,
      dedup: { nearHamming: -1 },
      outliers: { contamination: 0 },
      labelQa: { conflictThreshold: 0.05, rule: 'majority', ...labelQa },
    });
  }

  it('with 3% conflicting double annotations settles them by rule without pausing', async () => {
    const dataset = await doubleAnnotated('qa3', 3);
    const { manifest } = await prepare('phase1-qa3', `file://${dir}/store-qa3`, dataset);
    const { report } = await quarantineList(manifest);
    expect(report.labelQa.multiplyAnnotated).toBe(100);
    expect(report.labelQa.conflicted).toBe(3);
    expect(report.labelQa.conflictRate).toBeCloseTo(0.03);
    expect(report.labelQa.paused).toBe(false);
    // Majority of two disagreeing annotators is a tie: those three are set aside.
    expect(report.labelQa.resolution).toBe('rule:majority');
    expect(report.accepted).toBe(97);
    // Agreeing pairs on the diagonal (48 even, 49 odd among images 3-99), the 3 conflicts off it.
    expect(report.labelQa.matrix[0]![0]).toBe(48);
    expect(report.labelQa.matrix[1]![1]).toBe(49);
    expect(report.labelQa.matrix[0]![1]).toBe(3);
    expect(report.labelQa.matrix[1]![0]).toBe(3);
  });

  it('with 8% conflicting double annotations pauses until the arbitration signal arrives, then continues', async () => {
    const dataset = await doubleAnnotated('qa8', 8);
    const runId = 'phase1-qa8';
    await withDataWorkers(async () => {
      const handle = await env.client.workflow.start(datasetWorkflow, { taskQueue: CPU_QUEUE, workflowId: runId, args: [{ runId, storeUri: `file://${dir}/store-qa8`, dataset }] });
      let progress: PipelineProgress | undefined;
      for (let i = 0; i < 120; i++) {
        progress = await handle.query(progressQuery);
        if (progress.arbitration?.status === 'waiting') break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(progress?.phase).toBe('arbitration');
      expect(progress?.arbitration).toMatchObject({ status: 'waiting', conflicted: 8, multiplyAnnotated: 100 });
      // Still waiting a while later: it does not go on by itself.
      await new Promise((r) => setTimeout(r, 2000));
      expect((await handle.query(progressQuery)).arbitration?.status).toBe('waiting');
      expect((await handle.describe()).status.name).toBe('RUNNING');

      // A resolution file naming an unknown class is refused; the run keeps waiting and says why.
      const conflicts = await readText(progress!.arbitration!.arbitrationUri);
      const lines = conflicts.trim().split(/\r?\n/);
      const header = lines[0]!;
      const bad = [header, ...lines.slice(1).map((l) => `${l}cat`)].join('\n');
      await writeFile(join(dir, 'bad-resolutions.csv'), bad);
      await handle.signal(arbitrationSignal, { resolutionsUri: join(dir, 'bad-resolutions.csv') });
      for (let i = 0; i < 60; i++) {
        const p = await handle.query(progressQuery);
        if (p.arbitration?.error) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const refused = await handle.query(progressQuery);
      expect(refused.arbitration?.status).toBe('waiting');
      expect(refused.arbitration?.error).toMatch(/cat/);

      // The arbiter sides with alice (the truth) on every conflict.
      const truthOf = (line: string) => (Number(/img\/(\d+)\.png/.exec(line)?.[1]) % 2 === 0 ? 'even' : 'odd');
      const good = [header, ...lines.slice(1).map((l) => `${l}${truthOf(l)}`)].join('\n');
      await writeFile(join(dir, 'resolutions.csv'), good);
      await handle.signal(arbitrationSignal, { resolutionsUri: join(dir, 'resolutions.csv') });
      const manifest = await handle.result();
      const { report } = await quarantineList(manifest);
      expect(report.labelQa.paused).toBe(true);
      expect(report.labelQa.resolution).toBe('arbitration');
      expect(report.labelQa.conflicted).toBe(8);
      expect(report.accepted).toBe(100);
      const all = [manifest.splits.train, manifest.splits.val, manifest.splits.test];
      const perClass = all.reduce((acc, s) => acc.map((v, i) => v + (s.perClass[i] ?? 0)), [0, 0]);
      expect(perClass).toEqual([50, 50]);
    });
  });

  it('a sweep preparing its own data pauses the same way: its progress query shows the wait, and the arbitration signal settles it', async () => {
    const dataset = await doubleAnnotated('qa8-sweep', 8);
    const sweepId = 'phase1-qa8-sweep';
    const base = parsePipelineConfig({ sweep: { space: { 'training.learningRate': { type: 'log-uniform', low: 1e-4, high: 1e-2 } }, trials: 1 } });
    await withDataWorkers(async () => {
      const handle = await env.client.workflow.start(sweepWorkflow, {
        taskQueue: CPU_QUEUE, workflowId: sweepId, args: [{ sweepId, storeUri: `file://${dir}/store-qa8-sweep`, config: { ...base, dataset } }],
      });
      let progress: PipelineProgress | undefined;
      for (let i = 0; i < 120; i++) {
        progress = await handle.query(progressQuery);
        if (progress.arbitration?.status === 'waiting') break;
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(progress).toMatchObject({ phase: 'arbitration', arbitration: { status: 'waiting', conflicted: 8, multiplyAnnotated: 100 } });
      expect(await handle.query(sweepStatusQuery)).toMatchObject({ phase: 'preparing', arbitration: { status: 'waiting', conflicted: 8 } });
      // Stopped before any trial starts, so no GPU worker is needed to finish it.
      await handle.signal(stopSweepSignal, 'data only');
      await handle.signal(arbitrationSignal, { decision: 'drop' });
      const result = await handle.result();
      expect(result.counts.total).toBe(0);
      expect((await quarantineList(result.dataset)).report.labelQa.resolution).toBe('rule:drop');
      expect((await handle.query(progressQuery)).phase).toBe('done');
    });
  });

  it('when nobody arbitrates in time, applies the timeout policy: drop settles the run, fail ends it naming the conflicts', async () => {
    // 0.0005 h = 1.8 s.
    const drop = await doubleAnnotated('qa8-drop', 8, { arbitrationTimeoutHours: 0.0005, onTimeout: 'drop' });
    const { manifest } = await prepare('phase1-qa8-drop', `file://${dir}/store-qa8-drop`, drop);
    const { report } = await quarantineList(manifest);
    expect(report.labelQa).toMatchObject({ paused: true, resolution: 'timeout:drop', dropped: 8 });
    expect(report.accepted).toBe(92);

    const fail = await doubleAnnotated('qa8-fail', 8, { arbitrationTimeoutHours: 0.0005, onTimeout: 'fail' });
    await expect(prepare('phase1-qa8-fail', `file://${dir}/store-qa8-fail`, fail)).rejects.toThrow();
    const handle = env.client.workflow.getHandle('phase1-qa8-fail');
    const failure = await handle.result().then(
      () => undefined,
      (err: unknown) => err as Error & { cause?: Error },
    );
    expect(failure?.cause?.message).toMatch(/8 of 100 double-annotated images \(8\.0%\) have conflicting labels.*no arbitration arrived within 0\.0005 h.*conflicts\.csv/);
  });

  it('settles a paused run with a third annotator: the majority of three decides', async () => {
    const dataset = await doubleAnnotated('qa8-third', 8);
    const runId = 'phase1-qa8-third';
    await withDataWorkers(async () => {
      const handle = await env.client.workflow.start(datasetWorkflow, { taskQueue: CPU_QUEUE, workflowId: runId, args: [{ runId, storeUri: `file://${dir}/store-qa8-third`, dataset }] });
      for (let i = 0; i < 120 && (await handle.query(progressQuery)).arbitration?.status !== 'waiting'; i++) await new Promise((r) => setTimeout(r, 250));
      // Carol labels the eight disputed images, siding with the truth.
      const carol = ['path,label,annotator', ...Array.from({ length: 8 }, (_, i) => `img/${i}.png,${i % 2 === 0 ? 'even' : 'odd'},carol`)];
      await writeFile(join(dir, 'qa8-third', 'carol.csv'), carol.join('\n'));
      await handle.signal(arbitrationSignal, { thirdAnnotatorUri: join(dir, 'qa8-third', 'carol.csv') });
      const manifest = await handle.result();
      const { report } = await quarantineList(manifest);
      expect(report.labelQa).toMatchObject({ paused: true, resolution: 'arbitration', dropped: 0 });
      expect(report.accepted).toBe(100);
      const total = [manifest.splits.train, manifest.splits.val, manifest.splits.test].reduce((acc, s) => acc.map((v, i) => v + (s.perClass[i] ?? 0)), [0, 0]);
      expect(total).toEqual([50, 50]);
    });
  });

  it('a rerun with another chunk size after an unfinished preparation decodes afresh instead of reusing chunks of other images', async () => {
    const base = await doubleAnnotated('rechunk', 0);
    const storeUri = `file://${dir}/store-rechunk`;
    const first = await prepare('phase1-rechunk-1', storeUri, { ...base, chunkSize: 16 });
    // As if the first preparation had crashed before its manifest: everything else is left behind.
    await rm(new URL(first.manifest.manifestUri));
    const second = await prepare('phase1-rechunk-2', storeUri, { ...base, chunkSize: 48 });
    expect(second.manifest.fingerprint).toBe(first.manifest.fingerprint);
    expect(second.manifest.stats.reused).toBe(false);
    expect(second.manifest.stats.accepted).toBe(100);
    const total = [second.manifest.splits.train, second.manifest.splits.val, second.manifest.splits.test].reduce((acc, s) => acc.map((v, i) => v + (s.perClass[i] ?? 0)), [0, 0]);
    expect(total).toEqual([50, 50]);
  });
});
