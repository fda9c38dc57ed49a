#!/usr/bin/env node
// Installs Debian's libturbojpeg0 (libjpeg-turbo's TurboJPEG API) without root into the
// git-ignored `.tools/turbojpeg/`, so phase 1 decodes JPEGs through it (src/data/turbojpeg.ts):
// about twice as fast as the same decode through sharp, and with DCT-domain scaling for large
// photos. Without it, JPEGs go through sharp.
//
//   node scripts/install-turbojpeg.mjs [--force]
//
// How: scripts/lib/debian-packages.mjs (the same closure, download and unpack as
// install-heif.mjs). The result is checked by loading the library with koffi and decoding a
// small JPEG, and recorded in `.tools/turbojpeg/stamp.json`; `.tools/turbojpeg/env.json` names
// the library, which src/data/turbojpeg.ts reads. A system that already has libturbojpeg.so.0
// installed needs nothing: the check then reports the system's copy.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { InstallError, installDebianTool, libraryDirs } from './lib/debian-packages.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
// An 8x8 grey baseline JPEG of one level.
const TINY_JPEG =
  '/9j/2wBDABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2P/2wBDARESEhgVGC8aGi9jQjhCY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2P/wAARCAAIAAgDASIAAhEBAxEB/8QAFAABAAAAAAAAAAAAAAAAAAAAAP/EABQQAQAAAAAAAAAAAAAAAAAAAAD/xAAUAQEAAAAAAAAAAAAAAAAAAAAA/8QAFBEBAAAAAAAAAAAAAAAAAAAAAP/aAAwDAQACEQMRAD8AAA//2Q==';

installDebianTool({
  root: ROOT,
  name: 'turbojpeg',
  top: ['libturbojpeg0'],
  makeEnv: (unpackDir) => {
    const library = libraryDirs(unpackDir).map((dir) => path.join(dir, 'libturbojpeg.so.0')).find((file) => fs.existsSync(file));
    if (!library) throw new InstallError(`the unpacked libturbojpeg0 holds no libturbojpeg.so.0 under ${unpackDir}`);
    return { LIBRARY: library };
  },
  check: (env) => decodeCheck(env?.LIBRARY),
});

/** Loads `library` with koffi in a child process and decodes TINY_JPEG with it. */
function decodeCheck(library) {
  if (!library || !fs.existsSync(library)) return { ok: false, out: `no library at ${library}` };
  const code = `
    const koffi = require('koffi');
    const lib = koffi.load(${JSON.stringify(library)});
    const init = lib.func('void* tjInitDecompress()');
    const decompress = lib.func('int tjDecompress2(void*, const uint8_t*, unsigned long, uint8_t*, int, int, int, int, int)');
    const jpeg = Buffer.from(${JSON.stringify(TINY_JPEG)}, 'base64');
    const out = new Uint8Array(64);
    const status = decompress(init(), jpeg, jpeg.length, out, 8, 0, 8, 6, 8192);
    if (status !== 0) { console.error('tjDecompress2 returned ' + status); process.exit(1); }
    console.log('grey level ' + out[0]);`;
  const result = spawnSync(process.execPath, ['-e', code], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) return { ok: false, out: (result.stderr || result.error?.message || `exit ${result.status}`).trim().split('\n').pop() };
  return { ok: true, out: `${path.relative(ROOT, library)} decodes a JPEG through koffi (${result.stdout.trim()})` };
}
