/**
 * Reads a classic TIFF's first image directory (IFD0) without decoding: the size, and whether
 * the directory and every strip or tile of the first image lie inside the file. libvips reports
 * a TIFF cut short as an "unsupported image format", so this is what tells truncated apart.
 * BigTIFF is left to sharp.
 */

export type TiffInspection =
  | { ok: true; width: number; height: number }
  | { ok: false; reason: 'truncated' | 'corrupt'; detail: string; header?: { width: number; height: number } }
  | undefined;

const fmt = (n: number): string => n.toLocaleString('en-US');

const TYPE_SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4 };

const WIDTH = 256;
const HEIGHT = 257;
const STRIP_OFFSETS = 273;
const STRIP_BYTE_COUNTS = 279;
const TILE_OFFSETS = 324;
const TILE_BYTE_COUNTS = 325;

/** IFD0 facts of a TIFF (magic already matched); undefined for BigTIFF. */
export function inspectTiff(bytes: Uint8Array): TiffInspection {
  const n = bytes.length;
  if (n < 8) return { ok: false, reason: 'truncated', detail: `TIFF ends after ${n} bytes, inside its 8-byte header` };
  const little = bytes[0] === 0x49;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(2, little) !== 42) return undefined;
  const ifd = view.getUint32(4, little);
  if (ifd < 8) return { ok: false, reason: 'corrupt', detail: `TIFF header points its first image directory at byte ${ifd}, inside the header` };
  if (ifd + 2 > n) return { ok: false, reason: 'truncated', detail: `TIFF ends after ${fmt(n)} bytes, before its first image directory at byte ${fmt(ifd)}` };
  const count = view.getUint16(ifd, little);
  const ifdEnd = ifd + 2 + count * 12;
  if (ifdEnd > n) {
    return { ok: false, reason: 'truncated', detail: `TIFF ends after ${fmt(n)} of at least ${fmt(ifdEnd)} bytes: its first image directory (${count} entries at byte ${fmt(ifd)}) runs past the end` };
  }
  const values = new Map<number, number[] | string>();
  for (let e = 0; e < count; e++) {
    const at = ifd + 2 + e * 12;
    const tag = view.getUint16(at, little);
    if (![WIDTH, HEIGHT, STRIP_OFFSETS, STRIP_BYTE_COUNTS, TILE_OFFSETS, TILE_BYTE_COUNTS].includes(tag)) continue;
    const type = view.getUint16(at + 2, little);
    const items = view.getUint32(at + 4, little);
    const size = (TYPE_SIZES[type] ?? 0) * items;
    if (type !== 3 && type !== 4) return { ok: false, reason: 'corrupt', detail: `TIFF tag ${tag} has type ${type}; SHORT or LONG expected` };
    const start = size <= 4 ? at + 8 : view.getUint32(at + 8, little);
    if (start + size > n) {
      values.set(tag, `TIFF ends after ${fmt(n)} of at least ${fmt(start + size)} bytes: the values of tag ${tag} run past the end`);
      continue;
    }
    values.set(
      tag,
      Array.from({ length: items }, (_, i) => (type === 3 ? view.getUint16(start + i * 2, little) : view.getUint32(start + i * 4, little))),
    );
  }
  const first = (tag: number): number | undefined => {
    const v = values.get(tag);
    return Array.isArray(v) ? v[0] : undefined;
  };
  const width = first(WIDTH);
  const height = first(HEIGHT);
  if (width === undefined || height === undefined) return { ok: false, reason: 'corrupt', detail: 'TIFF first image directory has no ImageWidth/ImageLength' };
  const header = { width, height };
  if (width === 0 || height === 0) return { ok: false, reason: 'corrupt', detail: `TIFF declares a ${width}x${height} image`, header };
  for (const [offsetsTag, countsTag, what] of [
    [STRIP_OFFSETS, STRIP_BYTE_COUNTS, 'strip'],
    [TILE_OFFSETS, TILE_BYTE_COUNTS, 'tile'],
  ] as const) {
    const offsets = values.get(offsetsTag);
    const counts = values.get(countsTag);
    if (typeof offsets === 'string') return { ok: false, reason: 'truncated', detail: offsets, header };
    if (typeof counts === 'string') return { ok: false, reason: 'truncated', detail: counts, header };
    if (!offsets || !counts) continue;
    for (let i = 0; i < Math.min(offsets.length, counts.length); i++) {
      const end = (offsets[i] ?? 0) + (counts[i] ?? 0);
      if (end > n) {
        return { ok: false, reason: 'truncated', detail: `TIFF ends after ${fmt(n)} of at least ${fmt(end)} bytes: ${what} ${i} of the first image runs past the end`, header };
      }
    }
  }
  return { ok: true, width, height };
}
