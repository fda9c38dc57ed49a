import { constants as zlibConstants, deflateSync, inflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { createRng } from '../../../src/core/rng.js';
import { chooseDecoder, decodeImage, ImageDecodeError, type DecodeOptions } from '../../../src/data/decode.js';
import { decodePng, fastPngEligible, inflateSmall } from '../../../src/data/png-fast-decode.js';
import { inspectPng, type PngInfo } from '../../../src/data/png-info.js';
import { encodePng, pngChunk, type RawPng } from '../../support/bad-images.js';
import { maxDiff } from '../../support/pixel-diff.js';

const CHANNELS: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Random rows for a colour type and bit depth (palette indices below `paletteSize`). */
function randomRows(width: number, height: number, colorType: number, bitDepth: number, seed: number, paletteSize = 256): Uint8Array[] {
  const rng = createRng(seed);
  const samples = (CHANNELS[colorType] ?? 1) * width;
  const rowBytes = Math.ceil((samples * bitDepth) / 8);
  return Array.from({ length: height }, () => {
    if (colorType === 3 && bitDepth === 8) return Uint8Array.from({ length: rowBytes }, () => rng.int(paletteSize));
    if (colorType === 3) {
      // Pack indices below paletteSize.
      const row = new Uint8Array(rowBytes);
      for (let x = 0; x < width; x++) {
        const v = rng.int(Math.min(paletteSize, 1 << bitDepth));
        const bit = x * bitDepth;
        row[bit >> 3] = (row[bit >> 3] ?? 0) | (v << (8 - bitDepth - (bit & 7)));
      }
      return row;
    }
    return Uint8Array.from({ length: rowBytes }, () => rng.int(256));
  });
}

function palette(entries: number, seed: number): Uint8Array {
  const rng = createRng(seed);
  return Uint8Array.from({ length: entries * 3 }, () => rng.int(256));
}

/** Decodes on the fast path and with sharp, checks the fast path ran, and that both agree. */
async function agree(png: Uint8Array, options: DecodeOptions): Promise<Uint8Array> {
  expect(chooseDecoder(png, options)).toBe('fast-png');
  const fast = await decodeImage(png, options);
  const viaSharp = await decodeImage(png, { ...options, decoder: 'sharp' });
  expect(fast.source).toEqual(viaSharp.source);
  expect(maxDiff(fast.pixels, viaSharp.pixels)).toBeLessThanOrEqual(1);
  return fast.pixels;
}

function info(png: Uint8Array): PngInfo {
  const inspection = inspectPng(png);
  if (!inspection.ok) throw new Error(inspection.detail);
  return inspection.info;
}

const COMBOS: [colorType: number, bitDepth: number][] = [
  [0, 1],
  [0, 2],
  [0, 4],
  [0, 8],
  [0, 16],
  [2, 8],
  [2, 16],
  [3, 1],
  [3, 2],
  [3, 4],
  [3, 8],
  [4, 8],
  [4, 16],
  [6, 8],
  [6, 16],
];

describe('fast PNG decoder', () => {
  it.each(COMBOS)('decodes colour type %i at %i bits with every filter type as sharp does', async (colorType, bitDepth) => {
    const width = 13;
    const height = 11;
    for (const filter of [0, 1, 2, 3, 4, (y: number) => y % 5]) {
      const raw: RawPng = { width, height, colorType, bitDepth, filter, rows: randomRows(width, height, colorType, bitDepth, colorType * 100 + bitDepth) };
      if (colorType === 3) raw.chunks = [{ type: 'PLTE', data: palette(1 << bitDepth, bitDepth) }];
      const png = encodePng(raw);
      for (const channels of [1, 3] as const) {
        await agree(png, { width, height, channels });
        await agree(png, { width: 20, height: 15, channels, background: [40, 90, 200] });
      }
    }
  });

  it('applies tRNS: palette alpha, grey and RGB colour keys, 8 and 16 bits', async () => {
    const bg: [number, number, number] = [250, 10, 120];
    const paletteAlpha = encodePng({
      width: 9,
      height: 7,
      colorType: 3,
      bitDepth: 8,
      rows: randomRows(9, 7, 3, 8, 1, 6),
      chunks: [
        { type: 'PLTE', data: palette(6, 2) },
        { type: 'tRNS', data: Uint8Array.from([0, 64, 128]) }, // shorter than the palette: the rest opaque
      ],
    });
    expect(info(paletteAlpha).trns).toBeDefined();
    // Grey key 5 (8-bit), on rows that contain 5s.
    const greyRows = Array.from({ length: 7 }, (_, y) => Uint8Array.from({ length: 9 }, (_, x) => ((x + y) % 3 === 0 ? 5 : x * 20 + y)));
    const greyKey = encodePng({ width: 9, height: 7, colorType: 0, bitDepth: 8, rows: greyRows, chunks: [{ type: 'tRNS', data: Uint8Array.from([0, 5]) }] });
    const rgbRows = Array.from({ length: 7 }, (_, y) => Uint8Array.from({ length: 27 }, (_, i) => ((Math.floor(i / 3) + y) % 2 === 0 ? [1, 2, 3][i % 3] ?? 0 : i * 9)));
    const rgbKey = encodePng({ width: 9, height: 7, colorType: 2, bitDepth: 8, rows: rgbRows, chunks: [{ type: 'tRNS', data: Uint8Array.from([0, 1, 0, 2, 0, 3]) }] });
    const rgb16Rows = rgbRows.map((row) => Uint8Array.from({ length: row.length * 2 }, (_, i) => (i % 2 === 0 ? 0 : (row[i >> 1] ?? 0))));
    const rgb16Key = encodePng({ width: 9, height: 7, colorType: 2, bitDepth: 16, rows: rgb16Rows, chunks: [{ type: 'tRNS', data: Uint8Array.from([0, 1, 0, 2, 0, 3]) }] });
    const grey2Key = encodePng({ width: 9, height: 7, colorType: 0, bitDepth: 2, rows: randomRows(9, 7, 0, 2, 3), chunks: [{ type: 'tRNS', data: Uint8Array.from([0, 2]) }] });
    for (const png of [paletteAlpha, greyKey, rgbKey, rgb16Key, grey2Key]) {
      for (const channels of [1, 3] as const) {
        await agree(png, { width: 9, height: 7, channels, background: bg });
        await agree(png, { width: 18, height: 14, channels });
      }
    }
    // The key really is transparent: key pixels take the background.
    const keyed = await agree(rgbKey, { width: 9, height: 7, channels: 3, background: bg });
    expect(Array.from(keyed.subarray(0, 3))).toEqual(bg);
  });

  it('joins image data split over several IDAT chunks', async () => {
    const png = encodePng({ width: 16, height: 16, colorType: 2, bitDepth: 8, filter: 4, idatSize: 50, rows: randomRows(16, 16, 2, 8, 9) });
    expect(info(png).idat.length).toBeGreaterThan(3);
    await agree(png, { width: 16, height: 16, channels: 3 });
  });

  it('matches sharp on palette PNGs sharp writes and on its adaptive filters', async () => {
    const rgba = Uint8Array.from({ length: 24 * 24 * 4 }, (_, i) => (i * 37 + (i >> 5)) & 0xff);
    const palettePng = new Uint8Array(await sharp(rgba, { raw: { width: 24, height: 24, channels: 4 } }).png({ palette: true, colours: 16, dither: 0 }).toBuffer());
    expect(info(palettePng).colorType).toBe(3);
    await agree(palettePng, { width: 24, height: 24, channels: 3, background: [255, 255, 255] });
    const truecolour = new Uint8Array(await sharp(rgba, { raw: { width: 24, height: 24, channels: 4 } }).png({ adaptiveFiltering: true }).toBuffer());
    await agree(truecolour, { width: 32, height: 32, channels: 3 });
  });

  it('reports a bad filter type and short image data as corrupt', async () => {
    const good = encodePng({ width: 4, height: 2, colorType: 0, bitDepth: 8, rows: [new Uint8Array(4), new Uint8Array(4)] });
    const badFilter = encodePng({ width: 4, height: 2, colorType: 0, bitDepth: 8, filter: 7, rows: [new Uint8Array(4), new Uint8Array(4)] });
    expect(() => decodePng(badFilter, info(badFilter))).toThrow(/row 0 uses filter type 7/);
    const err = await decodeImage(badFilter, { width: 4, height: 2, channels: 1, key: 'k' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ImageDecodeError);
    expect(err).toMatchObject({ reason: 'corrupt' });
    // IHDR says 3 rows, the data holds 2.
    const short = encodePng({ width: 4, height: 3, colorType: 0, bitDepth: 8, rows: [new Uint8Array(4), new Uint8Array(4)] });
    await expect(decodeImage(short, { width: 4, height: 3, channels: 1 })).rejects.toMatchObject({ reason: 'corrupt', detail: expect.stringMatching(/inflates to 10 bytes; a 4x3 image needs 15/) });
    expect((await decodeImage(good, { width: 4, height: 2, channels: 1 })).pixels).toEqual(new Uint8Array(8));
  });

  it('hands image data longer than the image needs to sharp, which ignores the excess', async () => {
    const long = encodePng({ width: 4, height: 1, colorType: 0, bitDepth: 8, rows: [Uint8Array.from([1, 2, 3, 4]), Uint8Array.from([9, 9, 9, 9])] });
    expect(chooseDecoder(long, { width: 4, height: 1, channels: 1 })).toBe('fast-png');
    expect(Array.from((await decodeImage(long, { width: 4, height: 1, channels: 1 })).pixels)).toEqual([1, 2, 3, 4]);
  });

  it('leaves interlaced, colour-managed, large or shrunk PNGs to sharp', async () => {
    const rgb = Uint8Array.from({ length: 40 * 30 * 3 }, (_, i) => (i * 7) & 0xff);
    const interlaced = new Uint8Array(await sharp(rgb, { raw: { width: 40, height: 30, channels: 3 } }).png({ progressive: true }).toBuffer());
    expect(info(interlaced).interlace).toBe(1);
    expect(chooseDecoder(interlaced, { width: 40, height: 30, channels: 3 })).toBe('sharp');
    expect((await decodeImage(interlaced, { width: 40, height: 30, channels: 3 })).pixels).toEqual(rgb);

    const plain = encodePng({ width: 40, height: 30, colorType: 2, bitDepth: 8, rows: randomRows(40, 30, 2, 8, 4) });
    const plainInfo = info(plain);
    expect(fastPngEligible(plainInfo, { width: 40, height: 30 })).toBe(true);
    expect(fastPngEligible(plainInfo, { width: 80, height: 45 })).toBe(true); // fill
    expect(fastPngEligible(plainInfo, { width: 80, height: 45, fit: 'contain' })).toBe(false); // other aspect
    expect(fastPngEligible(plainInfo, { width: 80, height: 60, fit: 'cover' })).toBe(true); // same aspect
    expect(fastPngEligible(plainInfo, { width: 20, height: 15 })).toBe(false); // shrinking
    const withProfile = encodePng({ width: 4, height: 4, colorType: 0, bitDepth: 8, rows: randomRows(4, 4, 0, 8, 1), chunks: [{ type: 'iCCP', data: new Uint8Array(8) }] });
    expect(fastPngEligible(info(withProfile), { width: 4, height: 4 })).toBe(false);
    const big = encodePng({ width: 512, height: 512, colorType: 0, bitDepth: 8, rows: randomRows(512, 512, 0, 8, 1) });
    expect(fastPngEligible(info(big), { width: 512, height: 512 })).toBe(false);
  });

  it('agrees with sharp on same-aspect contain and cover enlargements', async () => {
    const png = encodePng({ width: 14, height: 10, colorType: 2, bitDepth: 8, filter: 3, rows: randomRows(14, 10, 2, 8, 5) });
    for (const fit of ['contain', 'cover'] as const) await agree(png, { width: 21, height: 15, channels: 3, fit });
  });

  it('agrees with sharp exactly on random PNGs, sizes, enlargements, backgrounds and channel orders', async () => {
    const rng = createRng(42);
    let compared = 0;
    for (let k = 0; k < 200; k++) {
      const [colorType, bitDepth] = COMBOS[rng.int(COMBOS.length)] ?? [0, 8];
      const width = 1 + rng.int(30);
      const height = 1 + rng.int(30);
      const raw: RawPng = { width, height, colorType, bitDepth, filter: (y) => (y * 7 + k) % 5, rows: randomRows(width, height, colorType, bitDepth, k, 1 + rng.int(1 << Math.min(bitDepth, 8))) };
      if (colorType === 3) {
        raw.chunks = [{ type: 'PLTE', data: palette(1 << bitDepth, k) }];
        if (rng.int(2)) raw.chunks.push({ type: 'tRNS', data: Uint8Array.from({ length: 1 + rng.int(1 << bitDepth) }, () => rng.int(256)) });
      }
      const png = encodePng(raw);
      const grow = rng.int(3);
      const options: DecodeOptions = {
        width: grow === 0 ? width : width + rng.int(20),
        height: grow === 1 ? height : height + rng.int(20),
        channels: rng.int(2) ? 1 : 3,
        background: rng.int(3) === 0 ? [60, 60, 60] : [rng.int(256), rng.int(256), rng.int(256)],
        channelOrder: rng.int(2) ? 'bgr' : 'rgb',
      };
      const fast = await decodeImage(png, options);
      const viaSharp = await decodeImage(png, { ...options, decoder: 'sharp' });
      expect(chooseDecoder(png, options)).toBe('fast-png');
      expect(maxDiff(fast.pixels, viaSharp.pixels)).toBe(0);
      compared++;
    }
    expect(compared).toBe(200);
  });

  it('checks chunk CRCs, names a chunk with a bad type, and reports IHDR problems', () => {
    const png = encodePng({ width: 4, height: 4, colorType: 0, bitDepth: 8, rows: randomRows(4, 4, 0, 8, 1) });
    const badType = Uint8Array.from(png);
    badType.set(pngChunk('IHDR', Uint8Array.from([0, 0, 0, 4, 0, 0, 0, 4, 8, 0, 0, 0, 0])), 8);
    badType[33 + 4] = 0x31; // first IDAT type byte -> '1'
    expect(inspectPng(badType)).toMatchObject({ ok: false, reason: 'corrupt', detail: expect.stringMatching(/chunk at byte 33 has an invalid type/) });
    const zero = Uint8Array.from(png);
    zero.set(pngChunk('IHDR', Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 4, 8, 0, 0, 0, 0])), 8);
    expect(inspectPng(zero)).toMatchObject({ ok: false, reason: 'corrupt', detail: 'PNG IHDR declares an impossible 0x4 image' });
  });
});

describe('inflateSmall', () => {
  it('gives what node:zlib gives, or declines; never other bytes, on whole and damaged streams of every strategy', () => {
    const rng = createRng(7);
    const strategies = [
      zlibConstants.Z_DEFAULT_STRATEGY,
      zlibConstants.Z_FILTERED,
      zlibConstants.Z_HUFFMAN_ONLY,
      zlibConstants.Z_RLE,
      zlibConstants.Z_FIXED,
    ];
    let inflated = 0;
    for (let k = 0; k < 1500; k++) {
      const size = rng.int(5) === 0 ? rng.int(20000) : rng.int(2000);
      const kind = rng.int(4);
      const data = Uint8Array.from({ length: size }, (_, i) =>
        kind === 0 ? rng.int(256) : kind === 1 ? rng.int(4) * 60 : kind === 2 ? ((i % 37) * 3 + rng.int(2)) & 0xff : (i >> 6) & 0xff,
      );
      let stream: Uint8Array = deflateSync(data, { level: rng.int(10), strategy: strategies[rng.int(strategies.length)], memLevel: 1 + rng.int(9), windowBits: 9 + rng.int(7) });
      let damaged = false;
      if (rng.int(3) === 0) {
        stream = Uint8Array.from(stream);
        for (let j = 0; j <= rng.int(3); j++) {
          const at = rng.int(stream.length);
          stream[at] = (stream[at] ?? 0) ^ (1 << rng.int(8));
        }
        damaged = true;
      }
      if (rng.int(8) === 0) {
        stream = stream.subarray(0, rng.int(stream.length));
        damaged = true;
      }
      const expected = rng.int(6) === 0 ? Math.max(0, size + rng.int(3) - 1) : size;
      let reference: Uint8Array | undefined;
      try {
        reference = inflateSync(stream, { maxOutputLength: Math.max(1, expected) });
      } catch {
        reference = undefined;
      }
      const mine = inflateSmall(stream, expected);
      if (mine === undefined) {
        // Declining is always allowed, but a whole stream of the expected size must inflate.
        if (!damaged && expected === size) throw new Error(`declined a valid stream (case ${k})`);
        continue;
      }
      expect(reference && reference.length === expected && Buffer.compare(Buffer.from(reference), Buffer.from(mine)) === 0).toBe(true);
      inflated++;
    }
    expect(inflated).toBeGreaterThan(600);
  });
});
