#!/usr/bin/env node
// Installs Fashion-MNIST (Zalando Research; 60,000 + 10,000 28x28 grey images of 10 clothing
// classes) from the Debian package dataset-fashion-mnist, without installing it: an installed
// copy under /usr/share/datasets/fashion-mnist is used when present; otherwise the package is
// fetched with `apt-get download` and unpacked with `dpkg -x`. The gzipped IDX files land in
// the git-ignored .tools/data/fashion-mnist/. Idempotent: a finished install leaves a stamp.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(new URL('..', import.meta.url).pathname);
const target = path.join(root, '.tools', 'data', 'fashion-mnist');
const PACKAGE = 'dataset-fashion-mnist';
const SYSTEM = '/usr/share/datasets/fashion-mnist';
const FILES = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];

const force = process.argv.includes('--force');
const stamp = path.join(target, '.installed');
if (!force && fs.existsSync(stamp)) {
  console.log(`fashion-mnist: up to date (${target})`);
  process.exit(0);
}
const started = Date.now();
let source = SYSTEM;
let scratch;
if (!FILES.every((f) => fs.existsSync(path.join(SYSTEM, f)))) {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'dv-fashion-'));
  run('apt-get', ['download', PACKAGE], scratch, `fetching Debian package ${PACKAGE}`);
  const deb = fs.readdirSync(scratch).find((f) => f.endsWith('.deb'));
  if (!deb) fail(`apt-get download ${PACKAGE} left no .deb in ${scratch}`);
  run('dpkg', ['-x', deb, 'x'], scratch, `unpacking ${deb}`);
  source = findDir(path.join(scratch, 'x'), FILES[0]);
  if (!source) fail(`${deb} has no ${FILES[0]}`);
}
fs.rmSync(target, { recursive: true, force: true });
fs.mkdirSync(target, { recursive: true });
for (const file of FILES) {
  const from = path.join(source, file);
  if (!fs.existsSync(from)) fail(`${source} has no ${file}`);
  fs.copyFileSync(from, path.join(target, file));
}
if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
fs.writeFileSync(stamp, `${PACKAGE}\n`);
console.log(`fashion-mnist: ${FILES.length} files from ${PACKAGE} in ${((Date.now() - started) / 1000).toFixed(1)} s (${target})`);

/** The folder under `dir` that holds `file`, searched depth-first. */
function findDir(dir, file) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isFile() && entry.name === file) return dir;
  }
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      const found = findDir(path.join(dir, entry.name), file);
      if (found) return found;
    }
  }
  return undefined;
}

function run(cmd, argv, cwd, what) {
  const r = spawnSync(cmd, argv, { cwd, encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    fail(`${what}: \`${cmd} ${argv.join(' ')}\` failed (${r.error?.message ?? `exit ${r.status}`})\n${r.stderr ?? ''}`);
  }
}

function fail(message) {
  console.error(`install-fashion-mnist: ${message}`);
  process.exit(1);
}
