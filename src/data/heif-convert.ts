/**
 * HEVC-coded HEIF (HEIC, what phones write) to PNG through libheif's `heif-convert`: sharp's
 * prebuilt libvips has no HEVC decoder. The converter is $DV_HEIF_CONVERT, else the one
 * `node scripts/install-heif.mjs` unpacked into .tools/heif, else `heif-convert` on the PATH.
 * The PNG keeps the HEIF's transformations (rotation, mirroring) applied and then goes through
 * the ordinary PNG path.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const HEIF_ENV_FILE = path.join(ROOT, '.tools', 'heif', 'env.json');
export const HEIF_INSTALL_HINT = 'HEIC (HEVC-coded HEIF) needs libheif\'s heif-convert: run `node scripts/install-heif.mjs` '
  + '(Debian libheif-examples, no root, into .tools/heif), or `apt-get install libheif-examples`, or set DV_HEIF_CONVERT';

export interface HeifConverter {
  command: string;
  env: NodeJS.ProcessEnv;
}

/** Where heif-convert is, with the environment it needs; undefined when there is none. */
export function findHeifConverter(): HeifConverter | undefined {
  const fromEnv = process.env.DV_HEIF_CONVERT;
  if (fromEnv !== undefined && fromEnv !== '') return existsSync(fromEnv) ? { command: fromEnv, env: process.env } : undefined;
  if (existsSync(HEIF_ENV_FILE)) {
    const saved = JSON.parse(readFileSync(HEIF_ENV_FILE, 'utf8')) as { HEIF_CONVERT?: string; LD_LIBRARY_PATH?: string };
    if (saved.HEIF_CONVERT !== undefined && existsSync(saved.HEIF_CONVERT)) {
      const ld = [saved.LD_LIBRARY_PATH, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
      return { command: saved.HEIF_CONVERT, env: { ...process.env, ...(ld ? { LD_LIBRARY_PATH: ld } : {}) } };
    }
  }
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'heif-convert');
    if (dir !== '' && existsSync(candidate)) return { command: candidate, env: process.env };
  }
  return undefined;
}

/** Why a conversion could not be made: the converter is missing, or it refused the file. */
export class HeifConvertError extends Error {
  constructor(message: string, readonly missing: boolean) {
    super(message);
    this.name = 'HeifConvertError';
  }
}

/** The HEIF's primary image as PNG bytes. */
export async function heifToPng(bytes: Uint8Array, converter: HeifConverter | undefined = findHeifConverter()): Promise<Uint8Array> {
  if (converter === undefined) throw new HeifConvertError(HEIF_INSTALL_HINT, true);
  const dir = await mkdtemp(path.join(tmpdir(), 'dv-heif-'));
  try {
    const input = path.join(dir, 'in.heic');
    const output = path.join(dir, 'out.png');
    await writeFile(input, bytes);
    await new Promise<void>((resolve, reject) => {
      execFile(converter.command, [input, output], { env: converter.env, timeout: 120_000, maxBuffer: 1 << 20 }, (error, _stdout, stderr) => {
        if (error) reject(new HeifConvertError(`heif-convert failed: ${(String(stderr).trim() || error.message).split('\n').slice(0, 3).join('; ')}`, false));
        else resolve();
      });
    });
    // A file with several top-level images is written as out-1.png, out-2.png, ...; the first is the primary.
    const written = [output, path.join(dir, 'out-1.png')].find((f) => existsSync(f));
    if (written === undefined) throw new HeifConvertError('heif-convert wrote no image', false);
    return await readFile(written);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
