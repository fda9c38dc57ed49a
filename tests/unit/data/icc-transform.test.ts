import { readFileSync } from 'node:fs';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { buildIccTransform, iccTransformFor } from '../../../src/data/icc-transform.js';
import { sampleDataPath } from '../../../infra/tools.js';

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** An 8-bit PNG of `raw` (grey or RGB) carrying `profile` in an iCCP chunk. */
function pngWithProfile(raw: Uint8Array, width: number, height: number, channels: 1 | 3, profile: Uint8Array): Buffer {
  const row = width * channels;
  const rows = Buffer.alloc((row + 1) * height);
  for (let y = 0; y < height; y++) rows.set(raw.subarray(y * row, (y + 1) * row), y * (row + 1) + 1);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = channels === 1 ? 0 : 2;
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('iCCP', Buffer.concat([Buffer.from('icc\0\0', 'latin1'), deflateSync(profile)])),
    chunk('IDAT', deflateSync(rows, { level: 1 })),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

async function profileOf(name: string): Promise<Uint8Array> {
  const icc = (await sharp(readFileSync(sampleDataPath('skimage', name))).metadata()).icc;
  if (!icc) throw new Error(`${name} has no profile`);
  return new Uint8Array(icc);
}

/** Differences between two sample arrays, counted by size. */
function differences(a: Uint8Array, b: Uint8Array): Map<number, number> {
  const counts = new Map<number, number>();
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] ?? 0) - (b[i] ?? 0));
    counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  return counts;
}

describe('ICC profiles converted in JS', () => {
  // Every 8th level of each channel: 32^3 colours, converted by lcms (sharp) and by the transform.
  const colours = new Uint8Array(32 * 32 * 32 * 3);
  for (let i = 0; i < 32 * 32 * 32; i++) {
    colours[i * 3] = ((i & 31) * 8) | 7 * (i & 1);
    colours[i * 3 + 1] = (((i >> 5) & 31) * 8) | 3 * ((i >> 5) & 1);
    colours[i * 3 + 2] = ((i >> 10) & 31) * 8;
  }

  it.each([
    ['rocket.jpg', 'a camera matrix profile, gamma curves'],
    ['color.png', 'a display profile with chromatic adaptation and a vcgt tag'],
  ])('%s (%s) converts RGB to sRGB as lcms does, within one level', async (name) => {
    const profile = await profileOf(name);
    const transform = buildIccTransform(profile);
    expect(transform?.kind).toBe('rgb');
    const lcms = new Uint8Array(await sharp(pngWithProfile(colours, 32 * 32, 32, 3, profile)).toColourspace('srgb').raw().toBuffer());
    const mine = Uint8Array.from(colours);
    transform?.apply(mine, 32 * 32 * 32, 3);
    const diffs = differences(mine, lcms);
    expect(Math.max(...diffs.keys())).toBeLessThanOrEqual(1);
    expect((diffs.get(0) ?? 0) / mine.length).toBeGreaterThan(0.95);
    // The conversion is not a no-op on these profiles.
    expect((differences(colours, lcms).get(0) ?? 0) / mine.length).toBeLessThan(0.5);
  });

  it('converts a grey profile with a sampled curve (page.png) level by level, leaving alpha alone', async () => {
    const profile = await profileOf('page.png');
    const transform = buildIccTransform(profile);
    expect(transform?.kind).toBe('grey');
    const levels = Uint8Array.from({ length: 256 }, (_, i) => i);
    const lcms = new Uint8Array(await sharp(pngWithProfile(levels, 256, 1, 1, profile)).toColourspace('srgb').raw().toBuffer());
    const mine = Uint8Array.from(levels);
    transform?.apply(mine, 256, 1);
    for (let i = 0; i < 256; i++) expect(Math.abs((mine[i] ?? 0) - (lcms[i * 3] ?? 0)), `level ${i}`).toBeLessThanOrEqual(1);
    const withAlpha = Uint8Array.from([10, 200, 128, 77]);
    transform?.apply(withAlpha, 2, 2);
    expect([withAlpha[1], withAlpha[3]]).toEqual([200, 77]);
    expect(withAlpha[0]).toBe(mine[10]);
  });

  it('maps sRGB (lcms\' own v4 profile, parametric curves) onto itself', async () => {
    const png = await sharp(Buffer.alloc(3), { raw: { width: 1, height: 1, channels: 3 } }).withIccProfile('srgb').png().toBuffer();
    const icc = (await sharp(png).metadata()).icc;
    if (!icc) throw new Error('no profile embedded');
    const transform = buildIccTransform(new Uint8Array(icc));
    expect(transform?.kind).toBe('rgb');
    const mine = Uint8Array.from(colours);
    transform?.apply(mine, 32 * 32 * 32, 3);
    expect(Math.max(...differences(mine, colours).keys())).toBeLessThanOrEqual(1);
  });

  it('declines what it does not read, so sharp converts it: lookup tables, a Lab PCS, CMYK, damage', async () => {
    const base = await profileOf('rocket.jpg');
    const tagged = (edit: (p: Uint8Array, view: DataView) => void): Uint8Array => {
      const p = Uint8Array.from(base);
      edit(p, new DataView(p.buffer));
      return p;
    };
    const rename = (from: string, to: string) => (p: Uint8Array, view: DataView): void => {
      for (let i = 0; i < view.getUint32(128); i++) {
        const at = 132 + i * 12;
        if (String.fromCharCode(...p.subarray(at, at + 4)) === from) p.set(Buffer.from(to, 'latin1'), at);
      }
    };
    expect(buildIccTransform(base)).toBeDefined();
    expect(buildIccTransform(tagged(rename('cprt', 'A2B0')))).toBeUndefined();
    expect(buildIccTransform(tagged((p) => p.set(Buffer.from('Lab ', 'latin1'), 20)))).toBeUndefined();
    expect(buildIccTransform(tagged((p) => p.set(Buffer.from('CMYK', 'latin1'), 16)))).toBeUndefined();
    expect(buildIccTransform(tagged(rename('gTRC', 'xxxx')))).toBeUndefined();
    expect(buildIccTransform(base.subarray(0, 200))).toBeUndefined();
    expect(buildIccTransform(new Uint8Array(100))).toBeUndefined();
    expect(buildIccTransform(tagged((p) => p.set(Buffer.from('xxxx', 'latin1'), 36)))).toBeUndefined();
  });

  it('builds each distinct profile once', async () => {
    const profile = await profileOf('color.png');
    expect(iccTransformFor(profile)).toBe(iccTransformFor(Uint8Array.from(profile)));
  });
});
