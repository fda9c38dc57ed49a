#!/usr/bin/env node
// Installs the real sample data tests and benchmarks use, from Debian packages (no downloads
// from anywhere else):
//   .tools/data/skimage/  the scikit-image sample photos (python3-skimage: PNG, JPEG, GIF, TIFF)
//   .tools/data/sklearn/digits.csv.gz  the UCI handwritten digits (python3-sklearn)
// An installed copy under /usr/lib/python3/dist-packages is used when present; otherwise the
// package is fetched with `apt-get download` and unpacked with `dpkg -x`, without installing it.
// Idempotent: a finished install leaves a stamp and is skipped next time.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(new URL('..', import.meta.url).pathname);
const dataDir = path.join(root, '.tools', 'data');
const DIST = '/usr/lib/python3/dist-packages';

const PACKAGES = [
  {
    name: 'python3-skimage',
    from: 'skimage/data',
    to: 'skimage',
    // Photos and small images; the .npy/.npz test arrays are not needed.
    keep: (file) => /\.(png|jpe?g|gif|tiff?)$/i.test(file),
  },
  { name: 'python3-sklearn', from: 'sklearn/datasets/data', to: 'sklearn', keep: (file) => file === 'digits.csv.gz' },
];

const force = process.argv.includes('--force');
fs.mkdirSync(dataDir, { recursive: true });
for (const pkg of PACKAGES) {
  const target = path.join(dataDir, pkg.to);
  const stamp = path.join(target, '.installed');
  if (!force && fs.existsSync(stamp)) {
    console.log(`${pkg.to}: up to date (${target})`);
    continue;
  }
  const started = Date.now();
  let source = path.join(DIST, pkg.from);
  let scratch;
  if (!fs.existsSync(source)) {
    scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'dv-data-'));
    run('apt-get', ['download', pkg.name], scratch, `fetching Debian package ${pkg.name}`);
    const deb = fs.readdirSync(scratch).find((f) => f.endsWith('.deb'));
    if (!deb) fail(`apt-get download ${pkg.name} left no .deb in ${scratch}`);
    run('dpkg', ['-x', deb, 'x'], scratch, `unpacking ${deb}`);
    source = path.join(scratch, 'x', DIST.slice(1), pkg.from);
    if (!fs.existsSync(source)) fail(`${deb} has no ${path.join(DIST, pkg.from)}`);
  }
  fs.rmSync(target, { recursive: true, force: true });
  fs.mkdirSync(target, { recursive: true });
  let copied = 0;
  for (const file of fs.readdirSync(source)) {
    if (!pkg.keep(file)) continue;
    fs.copyFileSync(path.join(source, file), path.join(target, file));
    copied++;
  }
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
  if (copied === 0) fail(`${source}: no files to copy for ${pkg.to}`);
  fs.writeFileSync(stamp, `${pkg.name}\n`);
  console.log(`${pkg.to}: ${copied} files from ${pkg.name} in ${((Date.now() - started) / 1000).toFixed(1)} s (${target})`);
}

function run(cmd, argv, cwd, what) {
  const r = spawnSync(cmd, argv, { cwd, encoding: 'utf8' });
  if (r.error || r.status !== 0) {
    fail(`${what}: \`${cmd} ${argv.join(' ')}\` failed (${r.error?.message ?? `exit ${r.status}`})\n${r.stderr ?? ''}`);
  }
}

function fail(message) {
  console.error(`install-data: ${message}`);
  process.exit(1);
}
