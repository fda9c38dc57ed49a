#!/usr/bin/env node
// Installs Debian's CPU PyTorch (python3-torch, python3-torchvision) without root into the
// git-ignored `.tools/torch/`, for bench/train-vs-pytorch.ts to compare training speed against.
//
//   node scripts/install-torch.mjs [--force] [--print-env]
//
// How: the Depends/PreDepends closure of the two packages is resolved with `apt-cache depends`
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

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TORCH_DIR = path.join(ROOT, '.tools', 'torch');
const DEB_DIR = path.join(TORCH_DIR, 'debs');
const UNPACK_DIR = path.join(TORCH_DIR, 'root');
const STAMP_FILE = path.join(TORCH_DIR, 'stamp.json');
const ENV_FILE = path.join(TORCH_DIR, 'env.json');
const PYTHON = '/usr/bin/python3';
const TOP = ['python3-torch', 'python3-torchvision'];
const DEP_FLAGS = ['--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances'];

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
const versions = Object.fromEntries(TOP.map((p) => [p, candidateVersion(p)]));
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

fs.rmSync(UNPACK_DIR, { recursive: true, force: true });
fs.mkdirSync(DEB_DIR, { recursive: true });
fs.mkdirSync(UNPACK_DIR, { recursive: true });

const installed = installedPackages();
const { fetch, satisfiedBySystem } = resolveClosure(TOP, installed);
console.log(`torch: ${fetch.length} packages to fetch (${satisfiedBySystem} dependencies already installed on the system)`);

const have = new Set(fs.readdirSync(DEB_DIR));
const wanted = fetch.filter((p) => ![...have].some((f) => f.startsWith(`${p}_`)));
if (wanted.length > 0) {
  // apt-get download as non-root warns that the _apt sandbox cannot be used; harmless here.
  const result = run('apt-get', ['download', ...wanted], { cwd: DEB_DIR, allowFail: true });
  if (result.status !== 0) {
    const missing = wanted.filter((p) => !fs.readdirSync(DEB_DIR).some((f) => f.startsWith(`${p}_`)));
    fail(`apt-get download failed for: ${missing.join(' ') || '(unknown)'}\n${result.stderr}`);
  }
}
const debs = fs.readdirSync(DEB_DIR).filter((f) => f.endsWith('.deb') && fetch.some((p) => f.startsWith(`${p}_`)));
for (const deb of debs) run('dpkg', ['-x', path.join(DEB_DIR, deb), UNPACK_DIR]);

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

function candidateVersion(pkg) {
  const out = run('apt-cache', ['policy', pkg]).stdout;
  const match = /Candidate:\s*(\S+)/.exec(out);
  if (!match || match[1] === '(none)') fail(`apt has no candidate for ${pkg}; is the Debian bookworm main index present (apt-get update)?`);
  return match[1];
}

/** Names of packages dpkg reports as fully installed. */
function installedPackages() {
  const out = run('dpkg-query', ['-W', '-f=${Package} ${db:Status-Abbrev}\n']).stdout;
  const set = new Set();
  for (const line of out.split('\n')) {
    const [name, status] = line.split(' ');
    if (name && status?.startsWith('ii')) set.add(name.replace(/:.*$/, ''));
  }
  return set;
}

/**
 * Depends/PreDepends closure of `top`, minus what is installed. `apt-cache depends` prints for
 * each package lines `  Depends: x` (`|Depends:` when the next line is an alternative to it);
 * a virtual `<x>` is followed by its providers indented by four spaces.
 */
function resolveClosure(top, installedSet) {
  const fetchList = [];
  const seen = new Set();
  let satisfied = 0;
  let queue = top.filter((p) => !installedSet.has(p));
  for (const p of queue) seen.add(p);
  while (queue.length > 0) {
    const out = run('apt-cache', ['depends', ...DEP_FLAGS, ...queue]).stdout;
    fetchList.push(...queue);
    const next = [];
    for (const group of dependencyGroups(out)) {
      const candidates = group.flatMap((alt) => (alt.virtual ? alt.providers : [alt.name]));
      if (candidates.some((c) => installedSet.has(c) || seen.has(c))) {
        satisfied += 1;
        continue;
      }
      const pick = candidates[0];
      if (!pick) fail(`no package provides ${group.map((a) => a.name).join(' | ')}`);
      seen.add(pick);
      next.push(pick);
    }
    queue = next;
  }
  return { fetch: fetchList, satisfiedBySystem: satisfied };
}

function dependencyGroups(out) {
  const groups = [];
  let current = null;
  let continues = false;
  let last = null;
  for (const line of out.split('\n')) {
    const dep = /^ ( |\|)(Depends|PreDepends): (.+)$/.exec(line);
    if (dep) {
      const raw = dep[3].trim();
      const virtual = raw.startsWith('<');
      const alt = { name: raw.replace(/^<|>$/g, '').replace(/:any$/, ''), virtual, providers: [] };
      if (!continues || !current) {
        current = [];
        groups.push(current);
      }
      current.push(alt);
      continues = dep[1] === '|';
      last = alt;
      continue;
    }
    const provider = /^ {4}(\S+)$/.exec(line);
    if (provider && last) {
      last.providers.push(provider[1].replace(/:any$/, ''));
      continue;
    }
    if (/^\S/.test(line)) {
      current = null;
      continues = false;
      last = null;
    }
  }
  return groups;
}

/** Every directory under the unpacked lib trees that holds a versioned shared library. */
function libraryDirs(root) {
  const dirs = [];
  const walk = (dir, depth) => {
    if (!fs.existsSync(dir)) return;
    const entries = fs.readdirSync(dir, { withFileTypes: true });
    if (entries.some((e) => /^lib.+\.so(\.\d+)*$/.test(e.name))) dirs.push(dir);
    if (depth > 0) for (const e of entries) if (e.isDirectory()) walk(path.join(dir, e.name), depth - 1);
  };
  for (const base of ['usr/lib/x86_64-linux-gnu', 'lib/x86_64-linux-gnu', 'usr/lib']) {
    const dir = path.join(root, base);
    if (base === 'usr/lib') {
      if (fs.existsSync(dir) && fs.readdirSync(dir).some((n) => /^lib.+\.so(\.\d+)*$/.test(n))) dirs.push(dir);
    } else {
      walk(dir, 1);
    }
  }
  return [...new Set(dirs)];
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

function dirBytes(dir) {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += fs.statSync(path.join(e.parentPath ?? e.path, e.name)).size;
  }
  return total;
}

function round(x) {
  return Math.round(x * 10) / 10;
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

function run(cmd, argv, { cwd, allowFail = false } = {}) {
  const result = spawnSync(cmd, argv, { cwd, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (result.error) fail(`${cmd} could not be started: ${result.error.message}`);
  if (result.status !== 0 && !allowFail) fail(`${cmd} ${argv.join(' ')} exited with ${result.status}\n${result.stderr}`);
  return result;
}

function fail(message) {
  console.error(`install-torch: ${message}`);
  process.exit(1);
}
