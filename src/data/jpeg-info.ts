/**
 * Walks a JPEG's marker segments and scan data without decoding anything: the frame size (for
 * the decompression-bomb and too-small checks), the EXIF orientation, and whether the file ends
 * before its EOI marker (truncated) or breaks the marker syntax (corrupt). The walk is a few
 * `indexOf` calls over the scan data, so it costs nothing next to a decode.
 */

export interface JpegInfo {
  width: number;
  height: number;
  /** 1 grey, 3 YCbCr/RGB, 4 CMYK/YCCK. */
  components: number;
  /** Bits per sample: 8 (or 12 for rare medical/scientific JPEGs). */
  precision: number;
  /** EXIF orientation 1-8, when an Exif APP1 segment declares one. */
  orientation?: number;
  /**
   * The embedded ICC profile's pieces (APP2 "ICC_PROFILE" segment payloads, in file order with
   * their sequence numbers), when the file has one.
   */
  icc?: { seq: number; range: readonly [number, number] }[];
}

export type JpegInspection =
  | { ok: true; info: JpegInfo }
  | { ok: false; reason: 'truncated' | 'corrupt'; detail: string; info?: JpegInfo };

const fmt = (n: number): string => n.toLocaleString('en-US');

/** Start-of-frame markers: C0-CF except DHT (C4), JPG (C8) and DAC (CC). */
function isSof(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
}

function markerName(marker: number): string {
  if (isSof(marker)) return `SOF${marker - 0xc0}`;
  if (marker >= 0xe0 && marker <= 0xef) return `APP${marker - 0xe0}`;
  const names: Record<number, string> = { 0xc4: 'DHT', 0xcc: 'DAC', 0xda: 'SOS', 0xdb: 'DQT', 0xdd: 'DRI', 0xfe: 'COM', 0xdc: 'DNL' };
  return names[marker] ?? `marker 0x${marker.toString(16).toUpperCase()}`;
}

/** EXIF orientation from an APP1 payload, or undefined when absent or malformed. */
function exifOrientation(bytes: Uint8Array, start: number, end: number): number | undefined {
  // "Exif\0\0" then a TIFF header.
  if (end - start < 14) return undefined;
  const exif = [0x45, 0x78, 0x69, 0x66, 0, 0];
  for (let i = 0; i < 6; i++) if (bytes[start + i] !== exif[i]) return undefined;
  const tiff = start + 6;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const little = bytes[tiff] === 0x49 && bytes[tiff + 1] === 0x49;
  if (!little && !(bytes[tiff] === 0x4d && bytes[tiff + 1] === 0x4d)) return undefined;
  if (view.getUint16(tiff + 2, little) !== 42) return undefined;
  const ifd = tiff + view.getUint32(tiff + 4, little);
  if (ifd + 2 > end) return undefined;
  const count = view.getUint16(ifd, little);
  for (let e = 0; e < count; e++) {
    const entry = ifd + 2 + e * 12;
    if (entry + 12 > end) return undefined;
    if (view.getUint16(entry, little) === 0x0112) {
      const value = view.getUint16(entry + 8, little);
      return value >= 1 && value <= 8 ? value : undefined;
    }
  }
  return undefined;
}

const ICC_PROFILE = [0x49, 0x43, 0x43, 0x5f, 0x50, 0x52, 0x4f, 0x46, 0x49, 0x4c, 0x45, 0x00]; // "ICC_PROFILE\0"

function isIccHeader(bytes: Uint8Array, at: number): boolean {
  for (let i = 0; i < ICC_PROFILE.length; i++) if (bytes[at + i] !== ICC_PROFILE[i]) return false;
  return true;
}

/** Reads the frame header and checks the marker structure through to EOI. */
export function inspectJpeg(bytes: Uint8Array): JpegInspection {
  const n = bytes.length;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let info: JpegInfo | undefined;
  let orientation: number | undefined;
  const icc: NonNullable<JpegInfo['icc']> = [];
  const withInfo = (): JpegInfo | undefined =>
    info ? { ...info, ...(orientation !== undefined ? { orientation } : {}), ...(icc.length > 0 ? { icc } : {}) } : undefined;
  const bad = (reason: 'truncated' | 'corrupt', detail: string): JpegInspection => {
    const header = withInfo();
    return header ? { ok: false, reason, detail, info: header } : { ok: false, reason, detail };
  };
  let pos = 2; // after SOI
  for (;;) {
    if (pos >= n) return bad('truncated', `JPEG ends after ${fmt(n)} bytes, before its EOI marker`);
    if (bytes[pos] !== 0xff) {
      return bad('corrupt', `JPEG has 0x${(bytes[pos] ?? 0).toString(16).padStart(2, '0')} at byte ${fmt(pos)} where a marker should start`);
    }
    // Any number of 0xFF fill bytes may precede a marker.
    while (pos < n && bytes[pos] === 0xff) pos++;
    if (pos >= n) return bad('truncated', `JPEG ends after ${fmt(n)} bytes, inside a marker, before its EOI marker`);
    const marker = bytes[pos] ?? 0;
    const markerAt = pos - 1;
    pos++;
    if (marker === 0xd9) break; // EOI
    if (marker === 0x00 || marker === 0xd8) {
      return bad('corrupt', `JPEG has an invalid marker 0xFF${marker.toString(16).padStart(2, '0').toUpperCase()} at byte ${fmt(markerAt)}`);
    }
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // standalone
    if (pos + 2 > n) return bad('truncated', `JPEG ends after ${fmt(n)} bytes, inside the ${markerName(marker)} segment at byte ${fmt(markerAt)}`);
    const length = view.getUint16(pos, false);
    if (length < 2) return bad('corrupt', `JPEG ${markerName(marker)} segment at byte ${fmt(markerAt)} declares an impossible length ${length}`);
    const end = pos + length;
    if (end > n) {
      return bad('truncated', `JPEG ends after ${fmt(n)} of at least ${fmt(end)} bytes: the ${markerName(marker)} segment at byte ${fmt(markerAt)} runs past the end (no EOI marker)`);
    }
    if (isSof(marker)) {
      if (length < 8) return bad('corrupt', `JPEG ${markerName(marker)} segment at byte ${fmt(markerAt)} is too short (${length} bytes)`);
      if (info) return bad('corrupt', `JPEG has a second frame header at byte ${fmt(markerAt)}`);
      info = {
        precision: bytes[pos + 2] ?? 0,
        height: view.getUint16(pos + 3, false),
        width: view.getUint16(pos + 5, false),
        components: bytes[pos + 7] ?? 0,
      };
      if (info.width === 0 || info.height === 0) {
        return bad('corrupt', `JPEG frame header declares a ${info.width}x${info.height} image`);
      }
      if (![1, 3, 4].includes(info.components)) {
        return bad('corrupt', `JPEG frame header declares ${info.components} colour components`);
      }
    } else if (marker === 0xe1 && orientation === undefined) {
      orientation = exifOrientation(bytes, pos + 2, end);
    } else if (marker === 0xe2 && end - pos >= 16 && isIccHeader(bytes, pos + 2)) {
      icc.push({ seq: bytes[pos + 14] ?? 0, range: [pos + 16, end] });
    }
    pos = end;
    if (marker !== 0xda) continue;
    if (!info) return bad('corrupt', `JPEG scan at byte ${fmt(markerAt)} comes before any frame header`);
    // Entropy-coded data: ends at the first 0xFF that is not stuffing (FF00), a restart marker
    // (FFD0-FFD7) or fill before one of those.
    const scanStart = markerAt;
    for (;;) {
      const ff = bytes.indexOf(0xff, pos);
      if (ff < 0 || ff + 1 >= n) {
        return bad('truncated', `JPEG ends after ${fmt(n)} bytes, inside the scan data that starts at byte ${fmt(scanStart)}: no EOI marker`);
      }
      const next = bytes[ff + 1] ?? 0;
      if (next === 0x00 || (next >= 0xd0 && next <= 0xd7) || next === 0xff) {
        pos = ff + (next === 0xff ? 1 : 2);
        continue;
      }
      pos = ff;
      break;
    }
  }
  const header = withInfo();
  if (!header) return bad('corrupt', 'JPEG has no frame header (SOF) before its EOI marker');
  return { ok: true, info: header };
}
