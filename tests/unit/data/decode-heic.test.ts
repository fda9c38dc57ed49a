/**
 * HEIC (HEVC-coded HEIF), the format phones write. sharp's prebuilt libvips cannot decode HEVC,
 * so decodeImage converts it with libheif's heif-convert (`node scripts/install-heif.mjs`, which
 * `npm test` runs first). The HEIC files are made here from a sample photo with heif-enc.
 * Skipped, with the reason printed, only when the libheif tools cannot be installed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { sampleDataPath } from '../../../infra/tools.js';
import { decodeImage, ImageDecodeError } from '../../../src/data/decode.js';
import { HEIF_ENV_FILE, findHeifConverter } from '../../../src/data/heif-convert.js';

const tools = existsSync(HEIF_ENV_FILE) ? (JSON.parse(readFileSync(HEIF_ENV_FILE, 'utf8')) as { HEIF_ENC?: string; LD_LIBRARY_PATH?: string }) : undefined;
const skip = tools?.HEIF_ENC === undefined || findHeifConverter() === undefined ? 'the libheif tools are not installed (node scripts/install-heif.mjs)' : undefined;
if (skip !== undefined) console.warn(`HEIC decoding SKIPPED: ${skip}`);

const dir = mkdtempSync(join(tmpdir(), 'dv-heic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The sample photo encoded to HEIC by heif-enc at quality 90. */
function heic(name: string): Uint8Array {
  const out = join(dir, name.replace(/\.\w+$/, '.heic'));
  const env = { ...process.env, LD_LIBRARY_PATH: [tools?.LD_LIBRARY_PATH, process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
  execFileSync(tools!.HEIF_ENC!, ['-q', '90', '-o', out, sampleDataPath('skimage', name)], { env, stdio: 'pipe' });
  return readFileSync(out);
}

function meanAbsDiff(a: Uint8Array, b: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

describe.skipIf(skip !== undefined)('HEIC photos', () => {
  it('decode to the same pixels as the photo they were encoded from, up to HEVC loss', async () => {
    const bytes = heic('coffee.png');
    expect((await sharp(bytes).metadata()).compression).toBe('hevc');
    const target = { height: 224, width: 224, channels: 3 } as const;
    const fromHeic = await decodeImage(bytes, target);
    const fromPng = await decodeImage(readFileSync(sampleDataPath('skimage', 'coffee.png')), target);
    expect(fromHeic.source).toMatchObject({ format: 'heif', width: 600, height: 400, channels: 3 });
    expect(fromHeic.pixels.length).toBe(224 * 224 * 3);
    expect(meanAbsDiff(fromHeic.pixels, fromPng.pixels)).toBeLessThan(3);
    // Grey output works the same way.
    const grey = await decodeImage(bytes, { height: 32, width: 32, channels: 1 });
    expect(grey.pixels.length).toBe(32 * 32);
  });

  it('without heif-convert, a HEIC is refused as unsupported, naming what to install', async () => {
    const bytes = heic('astronaut.png');
    const saved = process.env.DV_HEIF_CONVERT;
    process.env.DV_HEIF_CONVERT = join(dir, 'no-such-heif-convert');
    try {
      const error = await decodeImage(bytes, { height: 32, width: 32, channels: 3, key: 'photos/astronaut.heic' }).then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(ImageDecodeError);
      expect(error).toMatchObject({ reason: 'unsupported-format' });
      expect((error as Error).message).toMatch(/photos\/astronaut\.heic.*node scripts\/install-heif\.mjs/s);
    } finally {
      if (saved === undefined) delete process.env.DV_HEIF_CONVERT;
      else process.env.DV_HEIF_CONVERT = saved;
    }
  });
});
