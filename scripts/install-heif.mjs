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
import { installDebianTool, libraryDirs } from './lib/debian-packages.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// A 16x16 RGB PNG of one colour.
const TINY_PNG = 'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAACXBIWXMAAAPoAAAD6AG1e1JrAAAAGUlEQVR4nGM4kWJEEmIY1ZAyGkonhmvSAACoeF4QsystiQAAAABJRU5ErkJggg==';

installDebianTool({
  root: ROOT,
  name: 'heif',
  top: ['libheif-examples'],
  makeEnv: (unpackDir) => {
    const bin = path.join(unpackDir, 'usr', 'bin');
    return {
      HEIF_CONVERT: path.join(bin, 'heif-convert'),
      HEIF_ENC: path.join(bin, 'heif-enc'),
      LD_LIBRARY_PATH: libraryDirs(unpackDir).join(':'),
    };
  },
  check: roundTrip,
});

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
