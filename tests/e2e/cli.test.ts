import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode } from 'fast-png';
import { readMnistSplit } from '../../src/data/mnist-idx.js';
import { runCliIn } from '../integration/support/cli-process.js';

describe('the durable-vision command line', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dv-cli-'));
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const cli = (args: string[]) => runCliIn(dir, args);

  it('rejects a bad config before starting anything, naming file, field, value and expectation', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'training:\n  epochs: 0\n  optimizer: adagrad\nmodel:\n  widthMultiplier: -1\n');
    const started = Date.now();
    const { code, output } = await cli(['run', '--config', file]);
    expect(code).toBe(2);
    expect(output).toContain(`invalid ${file}`);
    expect(output).toMatch(/training\.epochs: .*(>=|greater than or equal to) 1 \(got 0\)/);
    expect(output).toMatch(/training\.optimizer: .*'adam' \| 'adamw' \| 'sgd'.*\(got "adagrad"\)/);
    expect(output).toMatch(/model\.widthMultiplier: .*\(got -1\)/);
    // Nothing was started: no server data, and no time spent starting one.
    expect(existsSync(join(dir, '.data'))).toBe(false);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('reports YAML syntax errors with their position', async () => {
    const file = join(dir, 'broken.yaml');
    await writeFile(file, 'training:\n  epochs: [1\n');
    const { code, output } = await cli(['run', '--config', file]);
    expect(code).toBe(2);
    expect(output).toMatch(/broken\.yaml: not valid YAML at line \d+, column \d+/);
  });

  it('prepares a folder of images alone with --prepare-only, quarantining a bad file and saying so', async () => {
    const folder = join(dir, 'images');
    const mnist = await readMnistSplit('test');
    for (const c of ['a', 'b']) await mkdir(join(folder, c), { recursive: true });
    for (let i = 0; i < 24; i++) {
      const data = mnist.pixels.subarray(i * 784, (i + 1) * 784);
      await writeFile(join(folder, i % 2 ? 'a' : 'b', `${i}.png`), encode({ width: 28, height: 28, channels: 1, depth: 8, data }));
    }
    await writeFile(join(folder, 'a', 'empty.png'), new Uint8Array(0));
    const file = join(dir, 'folder.yaml');
    await writeFile(file, `dataset:\n  sources: [{ kind: image-folder, uri: ${JSON.stringify(folder)} }]\n  outliers: { contamination: 0 }\n`);
    const run = await cli(['run', '--prepare-only', '--config', file, '--json', '--run-id', 'cli-prepare']);
    expect(run.code, run.output).toBe(0);
    expect(run.output).toMatch(/25 images in: 24 accepted .*, 1 quarantined/);
    const manifest = JSON.parse(run.stdout) as { classes: string[]; dataReportUri: string };
    expect(manifest.classes).toEqual(['a', 'b']);
    const report = JSON.parse(await readFile(new URL(manifest.dataReportUri), 'utf8')) as { quarantine: { reason: string; count: number }[] };
    expect(report.quarantine).toEqual([expect.objectContaining({ reason: 'zero-byte', count: 1 })]);
  });

  it('runs a pipeline with its own Temporal server, prints JSON, and status finds the run afterwards', async () => {
    const file = join(dir, 'tiny.yaml');
    await writeFile(
      file,
      [
        'dataset:',
        '  limit: { train: 600, test: 200 }',
        'training:',
        '  epochs: 1',
        'validation:',
        '  minAccuracy: 0.3',
        '  benchmarkSeconds: 0.5',
        '',
      ].join('\n'),
    );
    const run = await cli(['run', '--config', file, '--json', '--run-id', 'cli-run']);
    expect(run.code, run.output).toBe(0);
    const json = JSON.parse(run.stdout) as Record<string, never>;
    expect(json).toMatchObject({ runId: 'cli-run' });
    const result = json as unknown as { evaluation: { accuracy: number }; validation: { throughputImgPerS: number }; reportUri: string; reportHtmlUri: string };
    expect(result.evaluation.accuracy).toBeGreaterThan(0.3);
    expect(result.validation.throughputImgPerS).toBeGreaterThan(0);
    expect(result.reportUri).toBe(`file://${join(dir, '.data', 'artifacts', 'runs', 'cli-run', 'report.json')}`);
    expect(await readFile(new URL(result.reportHtmlUri), 'utf8')).toContain('cli-run');
    expect(run.output).toContain('[3/5 train]');
    expect(run.output).toMatch(/report\s+file:\/\/.*report\.html/);

    // The dev server keeps its history in .data: a later `status` (a new server process) sees the run.
    const status = await cli(['status', 'cli-run', '--json']);
    expect(status.code, status.output).toBe(0);
    const s = JSON.parse(status.stdout) as { status: string; accuracy: number };
    expect(s.status).toBe('COMPLETED');
    expect(s.accuracy).toBe(result.evaluation.accuracy);
  });
});
