#!/usr/bin/env node
// Installs Debian's CPU PyTorch (python3-torch, python3-torchvision) without root into the
// git-ignored `.tools/torch/`, for bench/train-vs-pytorch.ts to compare training speed against.
//
//   node scripts/install-torch.mjs [--force] [--print-env]
//
// How (scripts/lib/debian-packages.mjs): the Depends/PreDepends closure of the two packages is resolved with `apt-cache depends`
// (Recommends/Suggests left out; for an alternative group `a | b` or a virtual package nothing
// is fetched when any member is installed, otherwise the first real candidate is taken); every
// package in it that `dpkg-query` does not report installed is fetched with `apt-get download`
// and unpacked with `dpkg -x` into `.tools/torch/root`. Maintainer scripts never run, so what
// they would do is done here: shared-library directories (including the alternatives-managed
// BLAS/LAPACK subdirectories) go on LD_LIBRARY_PATH, the dist-packages folder on PYTHONPATH.
// The result is checked with `/usr/bin/python3 -c "import torch, torchvision"` under those
// variables and recorded in `.tools/torch/stamp.json` (with the versions), so a second run only
// re-checks the import. The variables are written to `.tools/torch/env.json` and printed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { candidateVersion, dirBytes, fetchAndUnpack, InstallError, libraryDirs, readJson } from './lib/debian-packages.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TORCH_DIR = path.join(ROOT, '.tools', 'torch');
const DEB_DIR = path.join(TORCH_DIR, 'debs');
const UNPACK_DIR = path.join(TORCH_DIR, 'root');
const STAMP_FILE = path.join(TORCH_DIR, 'stamp.json');
const ENV_FILE = path.join(TORCH_DIR, 'env.json');
const PYTHON = '/usr/bin/python3';
const TOP = ['python3-torch', 'python3-torchvision'];

const args = new Set(process.argv.slice(2));
for (const arg of args) {
  if (!['--force', '--print-env', '--help', '-h'].includes(arg)) {
    fail(`unknown argument ${JSON.stringify(arg)}; expected --force, --print-env or --help`);
  }
}
if (args.has('--help') || args.has('-h')) {
  console.log('usage: node scripts/install-torch.mjs [--force] [--print-env]');
  process.exit(0);
}

const started = performance.now();
const versions = Object.fromEntries(TOP.map((p) => [p, guarded(() => candidateVersion(p))]));
const stamp = readJson(STAMP_FILE);
if (!args.has('--force') && stamp && JSON.stringify(stamp.versions) === JSON.stringify(versions) && fs.existsSync(ENV_FILE)) {
  const env = readJson(ENV_FILE);
  const check = importCheck(env);
  if (check.ok) {
    report(env, check.out, stamp, true);
    process.exit(0);
  }
  console.log(`torch: stamp present but the import check failed (${check.out.trim()}); reinstalling`);
}

let debs;
try {
  ({ debs } = fetchAndUnpack(TOP, DEB_DIR, UNPACK_DIR, (line) => console.log(`torch: ${line}`)));
} catch (err) {
  fail(err.message);
}

const env = {
  PYTHON,
  PYTHONPATH: [path.join(UNPACK_DIR, 'usr/lib/python3/dist-packages')].join(':'),
  LD_LIBRARY_PATH: libraryDirs(UNPACK_DIR).join(':'),
};
fs.writeFileSync(ENV_FILE, `${JSON.stringify(env, null, 2)}\n`);
const check = importCheck(env);
if (!check.ok) {
  fail(`import torch, torchvision failed with the unpacked packages:\n${check.out}\n${unresolvedLibraries(env)}`);
}
const newStamp = {
  versions,
  packages: debs.length,
  debMB: round(dirBytes(DEB_DIR) / 2 ** 20),
  unpackedMB: round(dirBytes(UNPACK_DIR) / 2 ** 20),
  seconds: round((performance.now() - started) / 1000),
};
fs.writeFileSync(STAMP_FILE, `${JSON.stringify(newStamp, null, 2)}\n`);
report(env, check.out, newStamp, false);

function report(envVars, importOut, info, cached) {
  console.log(
    `torch: ${cached ? 'up to date' : 'installed'} (${Object.entries(info.versions).map(([p, v]) => `${p} ${v}`).join(', ')}; ` +
      `${info.packages} .debs, ${info.debMB} MB downloaded, ${info.unpackedMB} MB unpacked, install took ${info.seconds} s)`,
  );
  console.log(`torch: ${importOut.trim()}`);
  console.log('torch: run python with');
  console.log(`  export PYTHONPATH=${envVars.PYTHONPATH}`);
  console.log(`  export LD_LIBRARY_PATH=${envVars.LD_LIBRARY_PATH}`);
  if (args.has('--print-env')) console.log(JSON.stringify(envVars));
}

function importCheck(envVars) {
  const result = spawnSync(
    envVars.PYTHON ?? PYTHON,
    ['-c', 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__, "threads", torch.get_num_threads())'],
    { encoding: 'utf8', env: { ...process.env, PYTHONPATH: envVars.PYTHONPATH, LD_LIBRARY_PATH: envVars.LD_LIBRARY_PATH }, timeout: 120_000 },
  );
  return { ok: result.status === 0, out: `${result.stdout ?? ''}${result.status === 0 ? '' : result.stderr ?? ''}` };
}

/** `ldd` over the torch libraries: which sonames stay unresolved, for the failure message. */
function unresolvedLibraries(envVars) {
  const libs = [];
  for (const dir of envVars.LD_LIBRARY_PATH.split(':')) {
    for (const n of fs.readdirSync(dir)) if (/^lib(torch|c10|caffe2).*\.so/.test(n)) libs.push(path.join(dir, n));
  }
  const missing = new Set();
  for (const lib of libs) {
    const out = spawnSync('ldd', [lib], { encoding: 'utf8', env: { ...process.env, LD_LIBRARY_PATH: envVars.LD_LIBRARY_PATH } }).stdout ?? '';
    for (const m of out.matchAll(/^\s*(\S+) => not found/gm)) missing.add(m[1]);
  }
  return missing.size > 0 ? `unresolved shared libraries: ${[...missing].join(' ')}` : 'ldd finds every shared library of libtorch';
}

function round(x) {
  return Math.round(x * 10) / 10;
}

function guarded(fn) {
  try {
    return fn();
  } catch (err) {
    if (err instanceof InstallError) fail(err.message);
    throw err;
  }
}

function fail(message) {
  console.error(`install-torch: ${message}`);
  process.exit(1);
}
