#!/usr/bin/env node
// Installs Debian's libheif command-line tools (libheif-examples: heif-convert, heif-enc) without
// root into the git-ignored `.tools/heif/`, so phase 1 can decode HEIC photos: sharp's prebuilt
// libvips has no HEVC decoder, so an HEVC-coded HEIF (what phones write) goes through
// heif-convert to PNG instead.
//
//   node scripts/install-heif.mjs [--force]
//
// How: scripts/lib/debian-packages.mjs (the same closure, download and unpack as
// install-torch.mjs). The result is checked by encoding a 16x16 PNG to HEIC and back, and
// recorded in `.tools/heif/stamp.json`; `.tools/heif/env.json` holds the binaries and the
// LD_LIBRARY_PATH they need, which src/data/heif-convert.ts reads.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { candidateVersion, fetchAndUnpack, InstallError, libraryDirs, readJson } from './lib/debian-packages.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const HEIF_DIR = path.join(ROOT, '.tools', 'heif');
const DEB_DIR = path.join(HEIF_DIR, 'debs');
const UNPACK_DIR = path.join(HEIF_DIR, 'root');
const STAMP_FILE = path.join(HEIF_DIR, 'stamp.json');
const ENV_FILE = path.join(HEIF_DIR, 'env.json');
const TOP = ['libheif-examples'];
// A 16x16 RGB PNG of one colour.
const TINY_PNG = 'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAGUlEQVR4nGM4kWJEEmIY1ZAyGkonhmvSAACoeF4QsystiQAAAABJRU5ErkJggg==';

const args = new Set(process.argv.slice(2));
for (const arg of args) if (!['--force', '--help', '-h'].includes(arg)) fail(`unknown argument ${JSON.stringify(arg)}; expected --force or --help`);
if (args.has('--help') || args.has('-h')) {
  console.log('usage: node scripts/install-heif.mjs [--force]');
  process.exit(0);
}

try {
  const started = performance.now();
  const versions = Object.fromEntries(TOP.map((p) => [p, candidateVersion(p)]));
  const stamp = readJson(STAMP_FILE);
  if (!args.has('--force') && stamp && JSON.stringify(stamp.versions) === JSON.stringify(versions) && fs.existsSync(ENV_FILE)) {
    const check = roundTrip(readJson(ENV_FILE));
    if (check.ok) {
      console.log(`heif: up to date (${TOP.map((p) => `${p} ${versions[p]}`).join(', ')}); ${check.out}`);
      process.exit(0);
    }
    console.log(`heif: stamp present but the check failed (${check.out}); reinstalling`);
  }
  const { debs } = fetchAndUnpack(TOP, DEB_DIR, UNPACK_DIR, (line) => console.log(`heif: ${line}`));
  const bin = path.join(UNPACK_DIR, 'usr', 'bin');
  const env = {
    HEIF_CONVERT: path.join(bin, 'heif-convert'),
    HEIF_ENC: path.join(bin, 'heif-enc'),
    LD_LIBRARY_PATH: libraryDirs(UNPACK_DIR).join(':'),
  };
  fs.writeFileSync(ENV_FILE, `${JSON.stringify(env, null, 2)}\n`);
  const check = roundTrip(env);
  if (!check.ok) fail(`the unpacked libheif tools do not work: ${check.out}`);
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  fs.writeFileSync(STAMP_FILE, `${JSON.stringify({ versions, packages: debs.length, seconds }, null, 2)}\n`);
  console.log(`heif: installed (${TOP.map((p) => `${p} ${versions[p]}`).join(', ')}; ${debs.length} .debs, ${seconds} s); ${check.out}`);
} catch (err) {
  if (err instanceof InstallError) fail(err.message);
  throw err;
}

/** Encodes a small PNG to HEIC (HEVC) with heif-enc and decodes it with heif-convert. */
function roundTrip(env) {
  if (!env?.HEIF_CONVERT || !env.HEIF_ENC) return { ok: false, out: 'env.json names no heif-convert/heif-enc' };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dv-heif-check-'));
  try {
    const png = path.join(dir, 'in.png');
    fs.writeFileSync(png, Buffer.from(TINY_PNG, 'base64'));
    const vars = { ...process.env, LD_LIBRARY_PATH: [env.LD_LIBRARY_PATH, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
    const enc = spawnSync(env.HEIF_ENC, ['-q', '50', '-o', path.join(dir, 'in.heic'), png], { encoding: 'utf8', env: vars, timeout: 60_000 });
    if (enc.status !== 0) return { ok: false, out: `heif-enc: ${(enc.stderr || enc.error?.message || '').trim()}` };
    const dec = spawnSync(env.HEIF_CONVERT, [path.join(dir, 'in.heic'), path.join(dir, 'out.png')], { encoding: 'utf8', env: vars, timeout: 60_000 });
    if (dec.status !== 0 || !fs.existsSync(path.join(dir, 'out.png'))) return { ok: false, out: `heif-convert: ${(dec.stderr || dec.error?.message || '').trim()}` };
    return { ok: true, out: 'a HEIC round trip through heif-enc and heif-convert works' };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function fail(message) {
  console.error(`install-heif: ${message}`);
  process.exit(1);
}
