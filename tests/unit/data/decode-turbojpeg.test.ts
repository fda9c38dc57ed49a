import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { sampleDataPath } from '../../../infra/tools.js';
import { chooseDecoder, decodeImage, decodeToTensor, type DecodeOptions } from '../../../src/data/decode.js';
import { resizeBilinear } from '../../../src/data/decode-resize.js';
import { dctScale, decodeTurboJpeg, turboJpegLibrary, turboJpegUnavailableReason } from '../../../src/data/turbojpeg.js';
import { badImages, BAD_IMAGE_LIMITS } from '../../support/bad-images.js';
import { pixelDiff } from '../../support/pixel-diff.js';

const library = turboJpegLibrary();
const skip = library === undefined ? `libturbojpeg is not available (${turboJpegUnavailableReason()}): run node scripts/install-turbojpeg.mjs` : undefined;
if (skip) console.warn(`skipping the TurboJPEG tests: ${skip}`);

function sample(name: string): Uint8Array {
  return readFileSync(sampleDataPath('skimage', name));
}

it('picks the largest DCT scale that keeps both axes at least the target size, as Pillow draft does', () => {
  expect(dctScale(640, 427, 224, 224)).toBe(1);
  expect(dctScale(1000, 872, 224, 224)).toBe(2);
  expect(dctScale(1411, 1411, 224, 224)).toBe(4);
  expect(dctScale(512, 512, 64, 64)).toBe(8);
  expect(dctScale(4000, 3000, 224, 224)).toBe(8);
  expect(dctScale(900, 200, 224, 100)).toBe(2);
});

describe.skipIf(skip !== undefined)('JPEGs through TurboJPEG', () => {
  it('decodes at the DCT scale, resizes in JS, and stays within a level or so of the sharp path on average', async () => {
    const camera = await sharp(sample('camera.png')).jpeg({ quality: 90 }).toBuffer(); // a grey JPEG
    const astronaut = await sharp(sample('astronaut.png'), { ignoreIcc: true }).jpeg({ quality: 90, chromaSubsampling: '4:2:0' }).toBuffer();
    const cases: [string, Uint8Array, number, number, 1 | 3][] = [
      ['retina.jpg', sample('retina.jpg'), 224, 224, 3], // 1411x1411 4:2:0, scale 1/4
      ['hubble_deep_field.jpg', sample('hubble_deep_field.jpg'), 224, 224, 3], // 1000x872 with an sRGB profile, 1/2
      ['camera (grey JPEG)', camera, 100, 120, 1],
      ['camera (grey JPEG) to RGB', camera, 224, 224, 3],
      ['astronaut', astronaut, 64, 64, 3], // 1/8
    ];
    for (const [name, bytes, height, width, channels] of cases) {
      const options: DecodeOptions = { height, width, channels };
      expect(chooseDecoder(bytes, options), name).toBe('turbojpeg');
      const { pixels, source } = await decodeImage(bytes, options);
      const meta = await sharp(bytes).metadata();
      expect(source, name).toMatchObject({ format: 'jpeg', width: meta.width, height: meta.height, bitDepth: 8 });
      // Exactly TurboJPEG at the draft scale, then resizeBilinear, then the channel conversion.
      const grey = meta.channels === 1;
      const scale = dctScale(meta.width ?? 0, meta.height ?? 0, width, height);
      const decoded = decodeTurboJpeg(bytes, meta.width ?? 0, meta.height ?? 0, scale, grey ? 1 : 3);
      if (!decoded) throw new Error(`${name}: TurboJPEG declined`);
      const resized = resizeBilinear(decoded.data, decoded.width, decoded.height, decoded.channels, width, height, new Uint8Array(width * height * decoded.channels));
      if (decoded.channels === channels) expect(pixels, name).toEqual(resized);
      // Against sharp (full libvips pipeline, shrink-on-load and its own reducer): close on average.
      const viaSharp = await decodeToTensor(bytes, { ...options, decoder: 'sharp' });
      const d = pixelDiff(pixels, viaSharp);
      expect(d.mean, name).toBeLessThan(name === 'astronaut' ? 5 : 1.5);
    }
  });

  it('swaps a BGR file to RGB and converts to grey like the sharp path', async () => {
    const bytes = sample('retina.jpg');
    const rgb = await decodeToTensor(bytes, { height: 50, width: 50, channels: 3 });
    const bgr = await decodeToTensor(bytes, { height: 50, width: 50, channels: 3, channelOrder: 'bgr' });
    for (let i = 0; i < rgb.length; i += 3) expect([bgr[i], bgr[i + 1], bgr[i + 2]]).toEqual([rgb[i + 2], rgb[i + 1], rgb[i]]);
    const grey = await decodeToTensor(bytes, { height: 50, width: 50, channels: 1 });
    expect(pixelDiff(grey, await decodeToTensor(bytes, { height: 50, width: 50, channels: 1, decoder: 'sharp' })).mean).toBeLessThan(2.5); // a 28x shrink: scale 1/8, then 177 -> 50
  });

  it('applies all eight EXIF orientations as sharp does', async () => {
    // A 300x200 crop of a photo (no symmetry to hide a wrong turn), stored under each orientation.
    const stored = sharp(sample('astronaut.png'), { ignoreIcc: true }).extract({ left: 100, top: 40, width: 300, height: 200 });
    for (let orientation = 1; orientation <= 8; orientation++) {
      const jpeg = await stored.clone().withMetadata({ orientation }).jpeg({ quality: 95 }).toBuffer();
      const swapped = orientation >= 5;
      const options: DecodeOptions = { height: swapped ? 120 : 80, width: swapped ? 80 : 120, channels: 3 };
      expect(chooseDecoder(jpeg, options), `orientation ${orientation}`).toBe('turbojpeg');
      const { pixels, source } = await decodeImage(jpeg, options);
      expect(source).toMatchObject({ width: 300, height: 200, ...(orientation === 1 ? {} : { orientation }) });
      const viaSharp = await decodeToTensor(jpeg, { ...options, decoder: 'sharp' });
      expect(pixelDiff(pixels, viaSharp).mean, `orientation ${orientation}`).toBeLessThan(1.5);
    }
  });

  it('leaves CMYK and enlarged JPEGs, and the sharp decoder option, to sharp', async () => {
    const raw = Buffer.alloc(40 * 20 * 3, 90);
    const base = sharp(raw, { raw: { width: 40, height: 20, channels: 3 } });
    const cmyk = await base.clone().toColourspace('cmyk').jpeg().toBuffer();
    const plain = await base.clone().jpeg().toBuffer();
    expect(chooseDecoder(cmyk, { height: 10, width: 20, channels: 3 })).toBe('sharp');
    expect(chooseDecoder(plain, { height: 40, width: 80, channels: 3 })).toBe('sharp');
    expect(chooseDecoder(plain, { height: 10, width: 20, channels: 3, decoder: 'sharp' })).toBe('sharp');
    expect(chooseDecoder(plain, { height: 10, width: 20, channels: 3 })).toBe('turbojpeg');
    expect(chooseDecoder(plain, { height: 10, width: 10, channels: 3, fit: 'cover' })).toBe('sharp');
  });

  it('declines damaged JPEGs, which sharp then quarantines with the right reason', async () => {
    const bad = (await badImages()).filter((b) => b.name.endsWith('.jpg') && b.reason !== 'unsupported-format');
    expect(bad.length).toBeGreaterThanOrEqual(3);
    for (const { name, bytes, reason } of bad) {
      expect(decodeTurboJpeg(bytes, 48, 40, 1, 3), name).toBeUndefined();
      const err = await decodeImage(bytes, { height: 16, width: 16, channels: 3, key: name, ...BAD_IMAGE_LIMITS }).catch((e: unknown) => e);
      expect(err, name).toMatchObject({ reason });
    }
  });
});
