/**
 * Decides what an encoded image is from its first bytes, never from its file name: a PDF named
 * `cat.png` is a PDF. Anything that is not one of the formats the decoder reads is described in
 * words a person can act on ("a PDF document", "text: ...", or the first bytes in hex).
 */

/** The formats `decodeImage` reads. */
export type ImageFormat = 'png' | 'jpeg' | 'webp' | 'gif' | 'tiff' | 'avif' | 'heif';

export type SniffResult = { format: ImageFormat } | { format: undefined; looksLike: string };

function startsWith(bytes: Uint8Array, prefix: readonly number[], at = 0): boolean {
  if (bytes.length < at + prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[at + i] !== prefix[i]) return false;
  return true;
}

function ascii(bytes: Uint8Array, from: number, to: number): string {
  let s = '';
  for (let i = from; i < Math.min(to, bytes.length); i++) s += String.fromCharCode(bytes[i] ?? 0);
  return s;
}

const PNG = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG = [0xff, 0xd8, 0xff];

/** ISO-BMFF brands (ftyp major or compatible) of AVIF and of HEIF/HEIC still images. */
const AVIF_BRANDS = new Set(['avif', 'avis']);
const HEIF_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'hevm', 'hevs', 'mif1', 'msf1']);

function sniffIsoBmff(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length < 16 || ascii(bytes, 4, 8) !== 'ftyp') return undefined;
  const boxSize = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, false);
  const brands = [ascii(bytes, 8, 12)];
  // Compatible brands follow the major brand and its minor version.
  for (let at = 16; at + 4 <= Math.min(boxSize, bytes.length, 64); at += 4) brands.push(ascii(bytes, at, at + 4));
  if (brands.some((b) => AVIF_BRANDS.has(b))) return 'avif';
  if (brands.some((b) => HEIF_BRANDS.has(b))) return 'heif';
  return undefined;
}

/** Well-known non-image (or unsupported image) signatures, for the quarantine detail. */
const KNOWN: readonly { prefix: readonly number[] | string; what: string }[] = [
  { prefix: '%PDF', what: 'a PDF document (starts with %PDF)' },
  { prefix: [0x00, 0x00, 0x01, 0x00], what: 'a Windows icon (ICO), which is not a supported format' },
  { prefix: '8BPS', what: 'a Photoshop document (starts with 8BPS)' },
  { prefix: [0xff, 0x0a], what: 'a JPEG XL codestream, which is not a supported format' },
  { prefix: [0x00, 0x00, 0x00, 0x0c, 0x4a, 0x58, 0x4c, 0x20], what: 'a JPEG XL container, which is not a supported format' },
  { prefix: [0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20], what: 'a JPEG 2000 image, which is not a supported format' },
  { prefix: 'PK\x03\x04', what: 'a ZIP archive (starts with PK)' },
  { prefix: [0x1f, 0x8b], what: 'a gzip stream' },
  { prefix: '\x7fELF', what: 'an ELF executable' },
  { prefix: 'RIFF', what: 'a RIFF file that is not WebP' },
];

function isText(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 512);
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const b = bytes[i] ?? 0;
    // Printable ASCII, tab/newline/CR, or UTF-8 lead/continuation bytes.
    if (!(b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127) || b >= 0x80)) return false;
  }
  return true;
}

function hex(bytes: Uint8Array, count: number): string {
  return Array.from(bytes.subarray(0, count), (b) => b.toString(16).padStart(2, '0')).join(' ');
}

/** Describes bytes that are not a supported image, e.g. `a PDF document (starts with %PDF)`. */
export function describeUnknownBytes(bytes: Uint8Array): string {
  // BMP: "BM", the file size, then four reserved zero bytes (so "BMW owners" is text, not BMP).
  if (startsWith(bytes, [0x42, 0x4d]) && startsWith(bytes, [0, 0, 0, 0], 6)) return 'a BMP image (starts with BM), which is not a supported format';
  for (const { prefix, what } of KNOWN) {
    const codes = typeof prefix === 'string' ? Array.from(prefix, (c) => c.charCodeAt(0)) : prefix;
    if (startsWith(bytes, codes)) return what;
  }
  const head = ascii(bytes, 0, 256).trimStart().toLowerCase();
  if (head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg'))) return 'an SVG drawing, which is not a supported format';
  if (head.startsWith('<!doctype html') || head.startsWith('<html')) return 'an HTML page';
  if (isText(bytes)) {
    const snippet = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 24)).replace(/\s+/g, ' ');
    return `text (${JSON.stringify(snippet)}${bytes.length > 24 ? '...' : ''})`;
  }
  return `unrecognised bytes (starts with ${hex(bytes, 8)})`;
}

/** The image format `bytes` start like, or a description of what they are instead. */
export function sniffImage(bytes: Uint8Array): SniffResult {
  if (startsWith(bytes, PNG)) return { format: 'png' };
  if (startsWith(bytes, JPEG)) return { format: 'jpeg' };
  const head6 = ascii(bytes, 0, 6);
  if (head6 === 'GIF87a' || head6 === 'GIF89a') return { format: 'gif' };
  if (ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP') return { format: 'webp' };
  if (startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a])) return { format: 'tiff' };
  if (startsWith(bytes, [0x49, 0x49, 0x2b, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2b])) return { format: 'tiff' };
  const bmff = sniffIsoBmff(bytes);
  if (bmff) return { format: bmff };
  return { format: undefined, looksLike: describeUnknownBytes(bytes) };
}

/**
 * Size problems a container declares about itself before any pixel is read: a WebP whose RIFF
 * header promises more bytes than the file has. Other formats are checked by their own readers.
 */
export function checkRiffLength(bytes: Uint8Array): string | undefined {
  if (bytes.length < 12) return `WebP ends after ${bytes.length} bytes, inside its 12-byte RIFF header`;
  const declared = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true) + 8;
  if (declared > bytes.length) {
    return `WebP ends after ${bytes.length.toLocaleString('en-US')} of ${declared.toLocaleString('en-US')} bytes its RIFF header declares`;
  }
  return undefined;
}
