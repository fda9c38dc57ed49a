#!/usr/bin/env node
// `npm test`: installs the servers the tests need when missing (Temporal CLI, SeaweedFS),
// then type-checks, lints and runs every test against those real servers.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const extra = process.argv.slice(2);

function step(title, command, args, options = {}) {
  process.stderr.write(`\n== ${title}\n`);
  const started = Date.now();
  const r = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  process.stderr.write(`== ${title}: ${r.status === 0 ? 'ok' : `failed (exit ${r.status ?? r.signal})`} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  return r.status ?? 1;
}

const bin = (name) => join(root, 'node_modules', '.bin', name);
let failed = 0;
failed ||= step('tools (Temporal CLI, SeaweedFS)', process.execPath, ['scripts/install-tools.mjs', '--with-s3']);
failed ||= step('sample data (scikit-image photos, UCI digits)', process.execPath, ['scripts/install-data.mjs']);
if (failed) process.exit(failed);
// The torch engine's contract tests need PyTorch (Debian python3-torch, unpacked into .tools/torch;
// a second run only re-checks the import). Without it those tests are skipped and say why.
if (step('PyTorch for the torch engine (scripts/install-torch.mjs)', process.execPath, ['scripts/install-torch.mjs'])) {
  process.stderr.write('PyTorch could not be installed: the torch engine tests will be skipped\n');
}
failed += step('typecheck', bin('tsc'), ['--noEmit']) ? 1 : 0;
failed += step('lint', bin('eslint'), ['.']) ? 1 : 0;

mkdirSync(join(root, '.data'), { recursive: true });
const reportFile = join(root, '.data', 'vitest-report.json');
const vitest = step('tests', bin('vitest'), ['run', '--reporter=default', '--reporter=json', `--outputFile.json=${reportFile}`, ...extra]);

let passed = 0;
let failedTests = 0;
let skipped = 0;
if (existsSync(reportFile)) {
  const report = JSON.parse(readFileSync(reportFile, 'utf8'));
  passed = report.numPassedTests ?? 0;
  failedTests = report.numFailedTests ?? 0;
  skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
}
if (vitest && failedTests === 0) failedTests = 1; // a suite that failed to load counts as a failure
if (failed) process.stderr.write(`typecheck/lint: ${failed} step(s) failed\n`);
process.stdout.write(`\ntests: ${passed} passed, ${failedTests} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
process.exit(failed || vitest ? 1 : 0);
