// Debian packages without root: resolve a Depends closure with apt-cache, fetch what dpkg does
// not report installed with `apt-get download`, unpack with `dpkg -x` into a folder, and find
// the shared-library directories to put on LD_LIBRARY_PATH. Maintainer scripts never run.
// Used by install-torch.mjs (python3-torch), install-heif.mjs (libheif-examples) and
// install-turbojpeg.mjs (libturbojpeg0); the last two share `installDebianTool`.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const DEP_FLAGS = ['--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances'];

/** A JSON file's value (an installer's stamp or env file); null when missing or unreadable. */
export function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return null;
  }
}

/** Thrown for a failed step; the installers print it with their own prefix. */
export class InstallError extends Error {}

export function candidateVersion(pkg) {
  const out = run('apt-cache', ['policy', pkg]).stdout;
  const match = /Candidate:\s*(\S+)/.exec(out);
  if (!match || match[1] === '(none)') throw new InstallError(`apt has no candidate for ${pkg}; is the Debian bookworm main index present (apt-get update)?`);
  return match[1];
}

/** Names of packages dpkg reports as fully installed. */
export function installedPackages() {
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
export function resolveClosure(top, installedSet) {
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
      if (!pick) throw new InstallError(`no package provides ${group.map((a) => a.name).join(' | ')}`);
      seen.add(pick);
      next.push(pick);
    }
    queue = next;
  }
  return { fetch: fetchList, satisfiedBySystem: satisfied };
}

export function dependencyGroups(out) {
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
export function libraryDirs(root) {
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

export function dirBytes(dir) {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) total += fs.statSync(path.join(e.parentPath ?? e.path, e.name)).size;
  }
  return total;
}

export function run(cmd, argv, { cwd, allowFail = false } = {}) {
  const result = spawnSync(cmd, argv, { cwd, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 });
  if (result.error) throw new InstallError(`${cmd} could not be started: ${result.error.message}`);
  if (result.status !== 0 && !allowFail) throw new InstallError(`${cmd} ${argv.join(' ')} exited with ${result.status}\n${result.stderr}`);
  return result;
}

/**
 * Fetches and unpacks the closure of `top` into `unpackDir` (debs cached in `debDir`); returns
 * the packages unpacked and how many dependencies the system already had.
 */
export function fetchAndUnpack(top, debDir, unpackDir, log) {
  fs.rmSync(unpackDir, { recursive: true, force: true });
  fs.mkdirSync(debDir, { recursive: true });
  fs.mkdirSync(unpackDir, { recursive: true });
  const { fetch, satisfiedBySystem } = resolveClosure(top, installedPackages());
  log(`${fetch.length} packages to fetch (${satisfiedBySystem} dependencies already installed on the system)`);
  const have = fs.readdirSync(debDir);
  const wanted = fetch.filter((p) => !have.some((f) => f.startsWith(`${p}_`)));
  if (wanted.length > 0) {
    // apt-get download as non-root warns that the _apt sandbox cannot be used; harmless here.
    const result = run('apt-get', ['download', ...wanted], { cwd: debDir, allowFail: true });
    if (result.status !== 0) {
      const missing = wanted.filter((p) => !fs.readdirSync(debDir).some((f) => f.startsWith(`${p}_`)));
      throw new InstallError(`apt-get download failed for: ${missing.join(' ') || '(unknown)'}\n${result.stderr}`);
    }
  }
  const debs = fs.readdirSync(debDir).filter((f) => f.endsWith('.deb') && fetch.some((p) => f.startsWith(`${p}_`)));
  for (const deb of debs) run('dpkg', ['-x', path.join(debDir, deb), unpackDir]);
  return { debs, satisfiedBySystem };
}

/**
 * The whole run of an installer for Debian packages unpacked into `.tools/<name>`: arguments
 * (--force, --help); nothing to do when the stamp's versions are the candidates' and `check`
 * passes on the saved env; else fetch and unpack `top`, `makeEnv(unpackDir)` (written to
 * env.json), `check` it, write the stamp. `check(env)` returns { ok, out }. Exits 1 with
 * `install-<name>: <message>` when anything fails.
 */
export function installDebianTool({ root, name, top, makeEnv, check }) {
  const dir = path.join(root, '.tools', name);
  const stampFile = path.join(dir, 'stamp.json');
  const envFile = path.join(dir, 'env.json');
  const fail = (message) => {
    console.error(`install-${name}: ${message}`);
    process.exit(1);
  };
  const args = new Set(process.argv.slice(2));
  for (const arg of args) if (!['--force', '--help', '-h'].includes(arg)) fail(`unknown argument ${JSON.stringify(arg)}; expected --force or --help`);
  if (args.has('--help') || args.has('-h')) {
    console.log(`usage: node scripts/install-${name}.mjs [--force]`);
    process.exit(0);
  }
  try {
    const started = performance.now();
    const versions = Object.fromEntries(top.map((p) => [p, candidateVersion(p)]));
    const named = top.map((p) => `${p} ${versions[p]}`).join(', ');
    const stamp = readJson(stampFile);
    if (!args.has('--force') && stamp && JSON.stringify(stamp.versions) === JSON.stringify(versions) && fs.existsSync(envFile)) {
      const again = check(readJson(envFile));
      if (again.ok) {
        console.log(`${name}: up to date (${named}); ${again.out}`);
        process.exit(0);
      }
      console.log(`${name}: stamp present but the check failed (${again.out}); reinstalling`);
    }
    const { debs } = fetchAndUnpack(top, path.join(dir, 'debs'), path.join(dir, 'root'), (line) => console.log(`${name}: ${line}`));
    const env = makeEnv(path.join(dir, 'root'));
    fs.writeFileSync(envFile, `${JSON.stringify(env, null, 2)}\n`);
    const result = check(env);
    if (!result.ok) fail(`the unpacked ${top.join(' ')} does not work: ${result.out}`);
    const seconds = Math.round((performance.now() - started) / 100) / 10;
    fs.writeFileSync(stampFile, `${JSON.stringify({ versions, packages: debs.length, seconds }, null, 2)}\n`);
    console.log(`${name}: installed (${named}; ${debs.length} .debs, ${seconds} s); ${result.out}`);
  } catch (err) {
    if (err instanceof InstallError) fail(err.message);
    throw err;
  }
}
