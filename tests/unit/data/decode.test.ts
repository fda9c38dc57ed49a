import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encode } from 'fast-png';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { sampleDataPath } from '../../../infra/tools.js';
import { createRng } from '../../../src/core/rng.js';
import {
  chooseDecoder,
  DECODE_FAILURE_REASONS,
  decodeImage,
  decodeToTensor,
  ImageDecodeError,
  releaseSharpLockOf,
  sharpLockBuffer,
  type DecodeOptions,
} from '../../../src/data/decode.js';
import { describeUnknownBytes, sniffImage } from '../../../src/data/image-sniff.js';
import { readMnistSplit } from '../../../src/data/mnist-idx.js';
import { luma } from '../../../src/data/pixels.js';
import { BAD_IMAGE_LIMITS, badImages, encodePng, rows8 } from '../../support/bad-images.js';
import { maxDiff, meanDiff } from '../../support/pixel-diff.js';

function noise(length: number, seed: number, max = 256): Uint8Array {
  const rng = createRng(seed);
  return Uint8Array.from({ length }, () => rng.int(max));
}

function sample(name: string): Uint8Array {
  return readFileSync(sampleDataPath('skimage', name));
}

async function failure(bytes: Uint8Array, options: DecodeOptions): Promise<ImageDecodeError> {
  const err = await decodeImage(bytes, options).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(ImageDecodeError);
  return err as ImageDecodeError;
}

/** Decodes with both paths, checks the fast path really ran, and that they agree within 1 level. */
async function bothPaths(png: Uint8Array, options: DecodeOptions): Promise<Uint8Array> {
  expect(chooseDecoder(png, options)).toBe('fast-png');
  const fast = await decodeToTensor(png, options);
  const viaSharp = await decodeToTensor(png, { ...options, decoder: 'sharp' });
  expect(maxDiff(fast, viaSharp)).toBeLessThanOrEqual(1);
  return fast;
}

const rgbaPixels = noise(16 * 16 * 4, 3);
const rgbaPng = encode({ width: 16, height: 16, channels: 4, depth: 8, data: rgbaPixels });

describe('decodeImage quarantine reasons', () => {
  it('classifies every generated bad file, on the fast path and through sharp, with a detail naming the key', async () => {
    const bad = await badImages();
    expect(new Set(bad.map((b) => b.reason))).toEqual(new Set(DECODE_FAILURE_REASONS));
    for (const { name, bytes, reason } of bad) {
      for (const decoder of ['auto', 'sharp'] as const) {
        const err = await failure(bytes, { height: 32, width: 32, channels: 3, key: `user/${name}`, decoder, ...BAD_IMAGE_LIMITS });
        expect({ name, decoder, reason: err.reason }).toEqual({ name, decoder, reason });
        expect(err.name).toBe('ImageDecodeError');
        expect(err.key).toBe(`user/${name}`);
        expect(err.message).toBe(`user/${name}: ${err.detail}`);
        expect(err.detail.length).toBeGreaterThan(10);
      }
    }
  });

  it('reports the same reason and detail for a bad image whatever fails beside it', async () => {
    // libvips has one error buffer per process: concurrent failures used to swap messages.
    const bad = (await badImages()).filter((b) => ['garbage-idat.png', 'scrambled.jpg', 'cut-short.webp', 'cut-short.gif', 'cut-short.tif'].includes(b.name));
    expect(bad).toHaveLength(5);
    const alone: string[] = [];
    for (const b of bad) {
      const err = await failure(b.bytes, { height: 20, width: 20, channels: 3, ...BAD_IMAGE_LIMITS });
      alone.push(`${err.reason}: ${err.detail}`);
    }
    for (let round = 0; round < 3; round++) {
      const together = await Promise.all(
        [...bad, ...bad, ...bad].map(async (b) => {
          const err = await failure(b.bytes, { height: 20, width: 20, channels: 3, ...BAD_IMAGE_LIMITS });
          return `${err.reason}: ${err.detail}`;
        }),
      );
      expect(together).toEqual([...alone, ...alone, ...alone]);
    }
  });

  it('clears what a dead worker held of the sharp lock', async () => {
    const lock = new Int32Array(sharpLockBuffer());
    const deadThread = 12345;
    const slot = 2 + (deadThread % 62);
    // A worker that died mid-decode: one shared hold, and the exclusive claim.
    Atomics.store(lock, slot, 1);
    Atomics.store(lock, 0, slot + 1);
    releaseSharpLockOf(lock.buffer as SharedArrayBuffer, deadThread);
    expect([Atomics.load(lock, 0), Atomics.load(lock, slot)]).toEqual([0, 0]);
    const started = Date.now();
    const garbage = (await badImages()).find((b) => b.name === 'garbage-idat.png');
    if (!garbage) throw new Error('no garbage-idat.png');
    expect((await failure(garbage.bytes, { height: 20, width: 20, channels: 3, ...BAD_IMAGE_LIMITS })).reason).toBe('corrupt');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('gives specific details for each reason', async () => {
    const bad = Object.fromEntries((await badImages()).map((b) => [b.name, b.bytes]));
    const detail = async (name: string) => (await failure(bad[name] ?? new Uint8Array(), { height: 8, width: 8, channels: 1, ...BAD_IMAGE_LIMITS })).detail;
    expect(await detail('empty.png')).toBe('file is empty (0 bytes)');
    expect(await detail('document.png')).toMatch(/starts with %PDF/);
    expect(await detail('notes.png')).toMatch(/text \("These are my notes/);
    expect(await detail('bitmap.jpg')).toMatch(/BMP/);
    expect(await detail('cut-short.png')).toMatch(/^PNG ends after [\d,]+ of at least [\d,]+ bytes: the IDAT chunk at byte 33 runs past the end \(no IEND chunk\)$/);
    expect(await detail('no-iend.png')).toMatch(/^PNG ends after [\d,]+ bytes: no IEND chunk$/);
    expect(await detail('no-eoi.jpg')).toMatch(/^JPEG ends after [\d,]+ bytes, inside the scan data that starts at byte \d+: no EOI marker$/);
    expect(await detail('cut-short.tif')).toMatch(/^TIFF ends after [\d,]+ (of at least [\d,]+ )?bytes/);
    expect(await detail('cut-short.webp')).toMatch(/^WebP ends after [\d,]+ of [\d,]+ bytes its RIFF header declares$/);
    expect(await detail('bad-crc.png')).toMatch(/IDAT chunk at byte 33 fails its CRC check/);
    expect(await detail('garbage-idat.png')).toMatch(/does not inflate|IDAT stream error/);
    expect(await detail('scrambled.jpg')).toMatch(/Corrupt JPEG data/);
    expect(await detail('bomb.png')).toBe('20000x20000 = 400,000,000 pixels exceeds the 50,000,000-pixel limit');
    expect(await detail('bomb.jpg')).toBe('12000x12000 = 144,000,000 pixels exceeds the 50,000,000-pixel limit');
    expect(await detail('tiny.png')).toBe('4x4 is smaller than the minimum side of 8 pixels');
    expect(describeUnknownBytes(Uint8Array.from([0, 1, 2, 3, 250, 251, 252, 253, 254]))).toBe('unrecognised bytes (starts with 00 01 02 03 fa fb fc fd)');
  });

  it('refuses a decompression bomb from its header, before decoding a pixel', async () => {
    const bomb = encodePng({ width: 20000, height: 20000, bitDepth: 8, colorType: 0, rows: [new Uint8Array(20000)] });
    expect(bomb.length).toBeLessThan(200);
    const started = performance.now();
    for (const decoder of ['auto', 'sharp'] as const) {
      const err = await failure(bomb, { height: 32, width: 32, channels: 1, decoder });
      expect(err.reason).toBe('decompression-bomb');
    }
    // Inflating 400 MB would take far longer than this.
    expect(performance.now() - started).toBeLessThan(100);
    // A limit the image fits is respected too: 30x30 = 900 > 800.
    const small = encodePng({ width: 30, height: 30, bitDepth: 8, colorType: 0, rows: rows8(30, 30, 1, () => 0) });
    expect((await failure(small, { height: 30, width: 30, channels: 1, maxPixels: 800 })).detail).toBe('30x30 = 900 pixels exceeds the 800-pixel limit');
  });

  it("classifies scikit-image's truncated.jpg as truncated", async () => {
    const err = await failure(sample('truncated.jpg'), { height: 32, width: 32, channels: 3, key: 'truncated.jpg' });
    expect(err.reason).toBe('truncated');
    expect(err.detail).toMatch(/^JPEG ends after 400 of at least [\d,]+ bytes/);
  });

  it('sniffs formats by magic bytes, not names', () => {
    expect(sniffImage(sample('astronaut.png'))).toEqual({ format: 'png' });
    expect(sniffImage(sample('rocket.jpg'))).toEqual({ format: 'jpeg' });
    expect(sniffImage(sample('no_time_for_that_tiny.gif'))).toEqual({ format: 'gif' });
    expect(sniffImage(sample('multipage.tif'))).toEqual({ format: 'tiff' });
    expect(sniffImage(new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toMatchObject({ format: undefined, looksLike: expect.stringMatching(/SVG/) });
  });
});

describe('decodeImage normalisation', () => {
  it('decodes a grey PNG exactly, on both paths, to 1 and to 3 channels', async () => {
    const grey = noise(28 * 28, 1);
    const png = encode({ width: 28, height: 28, channels: 1, depth: 8, data: grey });
    expect(await bothPaths(png, { height: 28, width: 28, channels: 1 })).toEqual(grey);
    const rgb = await bothPaths(png, { height: 28, width: 28, channels: 3 });
    expect(rgb.length).toBe(28 * 28 * 3);
    expect([rgb[30], rgb[31], rgb[32]]).toEqual([grey[10], grey[10], grey[10]]);
  });

  it('flattens alpha onto the chosen background (black by default), then takes BT.601 luma for grey', async () => {
    for (const background of [undefined, [255, 0, 0], [20, 200, 90]] as const) {
      const bg = background ?? [0, 0, 0];
      const options = background ? { background: [...background] as [number, number, number] } : {};
      const rgb = await bothPaths(rgbaPng, { height: 16, width: 16, channels: 3, ...options });
      const grey = await bothPaths(rgbaPng, { height: 16, width: 16, channels: 1, ...options });
      for (const p of [0, 17, 255]) {
        const a = rgbaPixels[p * 4 + 3] ?? 0;
        const flat = [0, 1, 2].map((c) => Math.floor(((rgbaPixels[p * 4 + c] ?? 0) * a + (bg[c] ?? 0) * (255 - a)) / 255));
        expect([rgb[p * 3], rgb[p * 3 + 1], rgb[p * 3 + 2]]).toEqual(flat);
        expect(grey[p]).toBe(luma(flat[0] ?? 0, flat[1] ?? 0, flat[2] ?? 0));
      }
    }
    // A fully transparent pixel is the background; logo.png (RGBA) through sharp agrees too.
    const clear = encodePng({ width: 2, height: 1, colorType: 6, bitDepth: 8, rows: [Uint8Array.from([9, 9, 9, 0, 9, 9, 9, 255])] });
    expect(Array.from(await bothPaths(clear, { height: 1, width: 2, channels: 3, background: [1, 2, 3] }))).toEqual([1, 2, 3, 9, 9, 9]);
    const logo = await decodeImage(sample('logo.png'), { height: 50, width: 50, channels: 3, background: [255, 255, 255] });
    expect(logo.source).toMatchObject({ format: 'png', channels: 4, hasAlpha: true });
    expect([logo.pixels[0], logo.pixels[1], logo.pixels[2]]).toEqual([255, 255, 255]); // transparent corner on white
  });

  it('flattens grey+alpha onto a coloured background in colour', async () => {
    const ga = encodePng({ width: 3, height: 1, colorType: 4, bitDepth: 8, rows: [Uint8Array.from([100, 0, 100, 255, 100, 128])] });
    const out = await bothPaths(ga, { height: 1, width: 3, channels: 3, background: [255, 0, 0] });
    expect(Array.from(out.subarray(0, 6))).toEqual([255, 0, 0, 100, 100, 100]);
    expect(Array.from(out.subarray(6))).toEqual([Math.floor((100 * 128 + 255 * 127) / 255), Math.floor((100 * 128) / 255), Math.floor((100 * 128) / 255)]);
  });

  it('swaps a declared BGR channel order to RGB on both paths, before luma and flattening', async () => {
    const bgr = Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => [10, 100, 250][i % 3] ?? 0); // stored B=10 G=100 R=250
    const png = encode({ width: 8, height: 8, channels: 3, depth: 8, data: bgr });
    const rgb = await bothPaths(png, { height: 8, width: 8, channels: 3, channelOrder: 'bgr' });
    expect(Array.from(rgb.subarray(0, 3))).toEqual([250, 100, 10]);
    const grey = await bothPaths(png, { height: 8, width: 8, channels: 1, channelOrder: 'bgr' });
    expect(grey[0]).toBe(luma(250, 100, 10));
    // Enlarged and letterboxed through sharp: the letterbox is the RGB background, not swapped.
    const boxed = await decodeToTensor(png, { height: 8, width: 16, channels: 3, channelOrder: 'bgr', fit: 'contain', background: [0, 0, 255] });
    expect(Array.from(boxed.subarray(0, 3))).toEqual([0, 0, 255]);
    expect(Array.from(boxed.subarray(8 * 3, 8 * 3 + 3))).toEqual([250, 100, 10]);
    // BGRA with transparency: alpha stays the 4th channel, the background is RGB.
    const bgra = encodePng({ width: 2, height: 1, colorType: 6, bitDepth: 8, rows: [Uint8Array.from([10, 100, 250, 255, 0, 0, 0, 0])] });
    expect(Array.from(await bothPaths(bgra, { height: 1, width: 2, channels: 3, channelOrder: 'bgr', background: [1, 2, 3] }))).toEqual([250, 100, 10, 1, 2, 3]);
    // A JPEG through sharp.
    const jpeg = await sharp(Buffer.from(bgr), { raw: { width: 8, height: 8, channels: 3 } }).jpeg({ quality: 100 }).toBuffer();
    const fromJpeg = await decodeToTensor(jpeg, { height: 8, width: 8, channels: 3, channelOrder: 'bgr' });
    expect(Math.abs((fromJpeg[0] ?? 0) - 250) + Math.abs((fromJpeg[2] ?? 0) - 10)).toBeLessThan(12);
  });

  it('reduces 16-bit PNGs by their bit range, the same on both paths', async () => {
    const rng = createRng(4);
    const wideRgb = Uint16Array.from({ length: 8 * 8 * 3 }, () => rng.int(65536));
    const rgbPng = encode({ width: 8, height: 8, channels: 3, depth: 16, data: wideRgb });
    const rgb = await bothPaths(rgbPng, { height: 8, width: 8, channels: 3 });
    expect(Array.from(rgb)).toEqual(Array.from(wideRgb, (v) => Math.round((v * 255) / 65535)));
    // 12-bit data stored in 16 bits spans 0-255 after decoding.
    const twelve = Uint16Array.from({ length: 8 * 8 }, (_, i) => (i * 65) % 4096);
    const twelvePng = encode({ width: 8, height: 8, channels: 1, depth: 16, data: twelve });
    const grey = await bothPaths(twelvePng, { height: 8, width: 8, channels: 1 });
    expect(Array.from(grey)).toEqual(Array.from(twelve, (v) => Math.round((v * 255) / 4095)));
    // 16-bit grey+alpha and RGBA, enlarged.
    const ga16 = encode({ width: 6, height: 5, channels: 2, depth: 16, data: Uint16Array.from({ length: 60 }, () => rng.int(65536)) });
    await bothPaths(ga16, { height: 10, width: 12, channels: 3, background: [0, 128, 255] });
    const rgba16 = encode({ width: 6, height: 5, channels: 4, depth: 16, data: Uint16Array.from({ length: 120 }, () => rng.int(65536)) });
    await bothPaths(rgba16, { height: 10, width: 12, channels: 1, background: [200, 200, 200] });
  });

  it('decodes 16-bit TIFFs that hold 8-bit values to the full 0-255 range', async () => {
    for (const name of ['chessboard_GRAY_U16.tif', 'chessboard_GRAY_U16B.tif']) {
      const { pixels, source } = await decodeImage(sample(name), { height: 50, width: 50, channels: 1 });
      expect(source).toMatchObject({ format: 'tiff', width: 200, height: 200, channels: 1, bitDepth: 16 });
      expect([Math.min(...pixels), Math.max(...pixels)]).toEqual([0, 255]);
      // Same result as the 8-bit PNG of the same chessboard.
      // (The PNG through sharp too: a PNG this size is otherwise shrunk in JS, up to a few levels
      // apart at the board's edges.)
      const png = await decodeToTensor(sample('chessboard_GRAY.png'), { height: 50, width: 50, channels: 1, decoder: 'sharp' });
      expect(maxDiff(pixels, png)).toBeLessThanOrEqual(1);
    }
  });

  it('converts CMYK JPEGs to sRGB', async () => {
    const red = Uint8Array.from({ length: 16 * 16 * 3 }, (_, i) => [220, 30, 40][i % 3] ?? 0);
    const cmyk = await sharp(Buffer.from(red), { raw: { width: 16, height: 16, channels: 3 } }).toColourspace('cmyk').jpeg({ quality: 95 }).toBuffer();
    const { pixels, source } = await decodeImage(cmyk, { height: 16, width: 16, channels: 3 });
    expect(source).toMatchObject({ format: 'jpeg', channels: 4, bitDepth: 8 });
    expect(pixels[0]).toBeGreaterThan(180);
    expect(pixels[1]).toBeLessThan(60);
    expect(pixels[2]).toBeLessThan(60);
  });

  it('decodes palette PNGs, GIFs and grey TIFFs from the sample data', async () => {
    for (const [name, channels] of [['palette_color.png', 3], ['palette_gray.png', 3], ['foo3x5x4indexed.png', 4], ['green_palette.png', 3]] as const) {
      const png = sample(name);
      const { source } = await decodeImage(png, { height: 8, width: 8, channels: 3 });
      expect(source.channels).toBe(channels);
    }
    for (const name of ['palette_color.png', 'palette_gray.png', 'foo3x5x4indexed.png', 'checker_bilevel.png']) {
      const png = sample(name);
      const meta = await sharp(png).metadata();
      await bothPaths(png, { height: meta.height ?? 0, width: meta.width ?? 0, channels: 3, background: [255, 255, 255] });
    }
    const gif = await decodeImage(sample('no_time_for_that_tiny.gif'), { height: 25, width: 14, channels: 3 });
    expect(gif.source).toMatchObject({ format: 'gif', width: 14, height: 25, hasAlpha: true });
    const tiff = await decodeImage(sample('multipage.tif'), { height: 15, width: 10, channels: 1 });
    expect(tiff.source).toMatchObject({ format: 'tiff', width: 10, height: 15, channels: 1, bitDepth: 8 });
  });

  it('reads WebP, AVIF, GIF, TIFF and progressive JPEG, and names the format from the bytes', async () => {
    const rgb = Uint8Array.from({ length: 24 * 16 * 3 }, (_, i) => (i * 7 + (i >> 6)) & 0xff);
    const base = () => sharp(Buffer.from(rgb), { raw: { width: 24, height: 16, channels: 3 } });
    const files: [string, Buffer][] = [
      ['webp', await base().webp({ lossless: true }).toBuffer()],
      ['avif', await base().avif().toBuffer()],
      ['gif', await base().gif().toBuffer()],
      ['tiff', await base().tiff({ compression: 'lzw' }).toBuffer()],
      ['jpeg', await base().jpeg({ progressive: true }).toBuffer()],
    ];
    for (const [format, bytes] of files) {
      const { pixels, source } = await decodeImage(bytes, { height: 16, width: 24, channels: 3 });
      expect(source).toMatchObject({ format, width: 24, height: 16 });
      if (format === 'webp' || format === 'tiff') expect(pixels).toEqual(rgb); // lossless
    }
  });

  it('applies EXIF orientation to JPEGs and reports it', async () => {
    // 40 wide x 20 tall, left half white. Orientation 6 means "rotate 90 degrees clockwise to
    // display", so the decoded image is 20 wide x 40 tall with the white half on top.
    const raw = Uint8Array.from({ length: 40 * 20 }, (_, i) => (i % 40 < 20 ? 255 : 0));
    const jpeg = await sharp(Buffer.from(raw), { raw: { width: 40, height: 20, channels: 1 } })
      .jpeg({ quality: 95 })
      .withMetadata({ orientation: 6 })
      .toBuffer();
    const { pixels: out, source } = await decodeImage(jpeg, { height: 40, width: 20, channels: 1 });
    expect(source).toMatchObject({ format: 'jpeg', width: 40, height: 20, orientation: 6 });
    const mean = (rows: [number, number]) => {
      let sum = 0;
      for (let i = rows[0] * 20; i < rows[1] * 20; i++) sum += out[i] ?? 0;
      return sum / ((rows[1] - rows[0]) * 20);
    };
    expect(mean([0, 18])).toBeGreaterThan(240);
    expect(mean([22, 40])).toBeLessThan(15);
  });

  it('resizes with fill, contain (letterboxed on the background) and cover', async () => {
    const halves = Uint8Array.from({ length: 56 * 56 }, (_, i) => (i % 56 < 28 ? 200 : 50));
    const big = encode({ width: 56, height: 56, channels: 1, depth: 8, data: halves });
    const options = { height: 28, width: 28, channels: 1 } as const;
    expect(chooseDecoder(big, options)).toBe('fast-png'); // shrunk in JS
    const small = await decodeToTensor(big, options);
    expect(small.length).toBe(784);
    expect([small[5 * 28 + 3], small[20 * 28 + 24]]).toEqual([200, 50]);

    const wide = encode({ width: 40, height: 20, channels: 1, depth: 8, data: new Uint8Array(800).fill(255) });
    const contain = await decodeToTensor(wide, { height: 20, width: 20, channels: 1, fit: 'contain' });
    expect([contain[2 * 20 + 10], contain[10 * 20 + 10], contain[17 * 20 + 10]]).toEqual([0, 255, 0]);
    const blueBox = await decodeToTensor(wide, { height: 20, width: 20, channels: 3, fit: 'contain', background: [0, 0, 255] });
    expect(Array.from(blueBox.subarray((2 * 20 + 10) * 3, (2 * 20 + 10) * 3 + 3))).toEqual([0, 0, 255]);
    expect(Array.from(blueBox.subarray((10 * 20 + 10) * 3, (10 * 20 + 10) * 3 + 3))).toEqual([255, 255, 255]);
    const cover = await decodeToTensor(wide, { height: 20, width: 20, channels: 1, fit: 'cover' });
    expect(Math.min(...cover)).toBe(255);
    const fill = await decodeToTensor(wide, { height: 20, width: 20, channels: 3, fit: 'fill' });
    expect(Math.min(...fill)).toBe(255);
    // Cover keeps the centre: a left/right split image covered to a square keeps both halves.
    const split = encode({ width: 40, height: 20, channels: 1, depth: 8, data: Uint8Array.from({ length: 800 }, (_, i) => (i % 40 < 20 ? 0 : 255)) });
    const centre = await decodeToTensor(split, { height: 20, width: 20, channels: 1, fit: 'cover' });
    expect([centre[10 * 20 + 2], centre[10 * 20 + 17]]).toEqual([0, 255]);
  });

  it('shrinks with the linear (triangle) kernel and enlarges with sharp\'s default', async () => {
    const photo = sample('coins.png'); // 384x303 grey, no colour profile
    const viaSharp = async (width: number, height: number, kernel?: 'linear') =>
      new Uint8Array(await sharp(photo).resize({ width, height, fit: 'fill', ...(kernel ? { kernel } : {}) }).toColourspace('srgb').raw().toBuffer());
    const forced = { channels: 3, decoder: 'sharp' } as const;
    expect(await decodeToTensor(photo, { height: 100, width: 120, ...forced })).toEqual(await viaSharp(120, 100, 'linear'));
    // One axis shrinks: still the shrinking kernel.
    expect(await decodeToTensor(photo, { height: 400, width: 120, ...forced })).toEqual(await viaSharp(120, 400, 'linear'));
    expect(await decodeToTensor(photo, { height: 400, width: 500, ...forced })).toEqual(await viaSharp(500, 400));
    // A PNG this size is shrunk in JS (Pillow's BILINEAR): the same triangle filter, rounded
    // otherwise, so within a few levels of sharp's and the same on average.
    expect(chooseDecoder(photo, { height: 100, width: 120, channels: 3 })).toBe('fast-png');
    const mine = await decodeToTensor(photo, { height: 100, width: 120, channels: 3 });
    const theirs = await viaSharp(120, 100, 'linear');
    expect(maxDiff(mine, theirs)).toBeLessThanOrEqual(8);
    expect(Math.abs(mine.reduce((a, b) => a + b, 0) - theirs.reduce((a, b) => a + b, 0)) / mine.length).toBeLessThan(0.5);
    expect(await decodeToTensor(photo, { height: 400, width: 500, channels: 3 })).toEqual(await viaSharp(500, 400)); // enlarging: sharp
  });

  it('leaves an embedded sRGB profile unapplied (at most 1 level of rounding) and applies any other', async () => {
    const photo = sample('astronaut.png'); // embeds the 3,144-byte sRGB IEC61966-2.1 profile
    const options = { height: 64, width: 64, channels: 3 } as const;
    const managed = new Uint8Array(await sharp(photo).resize({ width: 64, height: 64, fit: 'fill', kernel: 'linear' }).toColourspace('srgb').raw().toBuffer());
    const unmanaged = new Uint8Array(await sharp(photo, { ignoreIcc: true }).resize({ width: 64, height: 64, fit: 'fill', kernel: 'linear' }).toColourspace('srgb').raw().toBuffer());
    const mine = await decodeToTensor(photo, { ...options, decoder: 'sharp' });
    expect(mine).toEqual(unmanaged);
    expect(maxDiff(mine, managed)).toBeLessThanOrEqual(1);
    // The JS path (which takes this PNG by default) leaves it unapplied too: the same pixels without the profile decode the same.
    const barePng = await sharp(photo, { ignoreIcc: true }).png().toBuffer();
    expect((await sharp(barePng).metadata()).icc).toBeUndefined();
    expect(chooseDecoder(photo, options)).toBe('fast-png');
    expect(await decodeToTensor(photo, options)).toEqual(await decodeToTensor(barePng, options));
    // The same profile in a JPEG (APP2 segments).
    const profile = (await sharp(photo).metadata()).icc;
    if (!profile) throw new Error('astronaut.png has no profile');
    const dir = mkdtempSync(join(tmpdir(), 'dv-icc-'));
    try {
      const iccPath = join(dir, 'srgb.icc');
      writeFileSync(iccPath, profile);
      const jpeg = await sharp(photo, { ignoreIcc: true }).withIccProfile(iccPath).jpeg({ quality: 90 }).toBuffer();
      expect((await sharp(jpeg).metadata()).icc).toEqual(profile);
      const jpegManaged = new Uint8Array(await sharp(jpeg).resize({ width: 64, height: 64, fit: 'fill', kernel: 'linear' }).toColourspace('srgb').raw().toBuffer());
      const jpegMine = await decodeToTensor(jpeg, { ...options, decoder: 'sharp' });
      expect(jpegMine).toEqual(new Uint8Array(await sharp(jpeg, { ignoreIcc: true }).resize({ width: 64, height: 64, fit: 'fill', kernel: 'linear' }).toColourspace('srgb').raw().toBuffer()));
      expect(maxDiff(jpegMine, jpegManaged)).toBeLessThanOrEqual(1);
      // Whichever decoder takes the JPEG, the profile changes nothing: the same scan without it decodes the same.
      const bare = await sharp(photo, { ignoreIcc: true }).jpeg({ quality: 90 }).toBuffer();
      expect((await sharp(bare).metadata()).icc).toBeUndefined();
      expect(await decodeToTensor(jpeg, options)).toEqual(await decodeToTensor(bare, options));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    // Other profiles are converted to sRGB: rocket.jpg (a camera's matrix profile), color.png (a
    // display profile) and page.png (a grey profile) are converted in JS after the resize, so they
    // agree with lcms converting before it up to rounding and the resize's order (largest on the
    // text edges of page.png, whose printer curve is far from linear), and are far from the
    // unconverted pixels.
    for (const name of ['rocket.jpg', 'color.png', 'page.png']) {
      const other = sample(name);
      const resize = { width: 64, height: 64, fit: 'fill', kernel: 'linear' } as const;
      const converted = new Uint8Array(await sharp(other).resize(resize).toColourspace('srgb').raw().toBuffer());
      const unconverted = new Uint8Array(await sharp(other, { ignoreIcc: true }).resize(resize).toColourspace('srgb').raw().toBuffer());
      const mine = await decodeToTensor(other, { ...options, decoder: 'sharp' });
      expect(maxDiff(mine, converted), name).toBeLessThanOrEqual(name === 'page.png' ? 24 : 8);
      expect(meanDiff(mine, converted), name).toBeLessThan(name === 'page.png' ? 1.5 : 0.5);
      expect(meanDiff(unconverted, converted), name).toBeGreaterThan(5);
    }
  });

  it('gives the same pixels on the fast path as through sharp for MNIST digits, enlarged or not', async () => {
    const test = await readMnistSplit('test');
    for (let n = 0; n < 100; n++) {
      const png = encode({ width: 28, height: 28, channels: 1, depth: 8, data: test.pixels.subarray(n * 784, (n + 1) * 784) });
      expect(await bothPaths(png, { height: 28, width: 28, channels: 1 })).toEqual(test.pixels.subarray(n * 784, (n + 1) * 784));
      await bothPaths(png, { height: 32, width: 32, channels: 1 });
      await bothPaths(png, { height: 32, width: 32, channels: 3 });
    }
  });

  it('rejects a bad target, naming the field and value', async () => {
    await expect(decodeImage(rgbaPng, { height: 0, width: 16, channels: 3 })).rejects.toThrow(/height must be an integer in \[1, 16384\], got 0/);
    await expect(decodeImage(rgbaPng, { height: 16, width: 16, channels: 2 as 1 })).rejects.toThrow(/channels must be 1 or 3, got 2/);
    await expect(decodeImage(rgbaPng, { height: 16, width: 16, channels: 3, background: [0, 0, 256] })).rejects.toThrow(/background must be three integers/);
    await expect(decodeImage(rgbaPng, { height: 16, width: 16, channels: 3, channelOrder: 'grb' as 'rgb' })).rejects.toThrow(/channelOrder must be/);
    await expect(decodeImage(rgbaPng, { height: 16, width: 16, channels: 3, maxPixels: 0 })).rejects.toThrow(/maxPixels must be/);
    await expect(decodeImage(rgbaPng, { height: 16, width: 16, channels: 3, minSide: 1.5 })).rejects.toThrow(/minSide must be/);
    await expect(decodeImage(rgbaPng, { height: 0, width: 16, channels: 3 })).rejects.not.toBeInstanceOf(ImageDecodeError);
  });
});
