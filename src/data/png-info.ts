/**
 * Reads a PNG's header and chunk names without inflating anything, so the decoder can choose
 * its path (pure-JS fast path or sharp) before spending time on pixels.
 */

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export interface PngInfo {
  width: number;
  height: number;
  bitDepth: number;
  /** PNG colour type: 0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA. */
  colorType: number;
  /** Names of the chunks present (IHDR, IDAT, iCCP, eXIf, ...). */
  chunks: Set<string>;
}

export function hasPngSignature(bytes: Uint8Array): boolean {
  if (bytes.length < SIGNATURE.length) return false;
  return SIGNATURE.every((b, i) => bytes[i] === b);
}

/**
 * Header facts of a PNG, or undefined when `bytes` is not a well-formed PNG chunk sequence
 * (the caller then lets the full decoder report what is wrong).
 */
export function readPngInfo(bytes: Uint8Array): PngInfo | undefined {
  if (!hasPngSignature(bytes) || bytes.length < 33) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks = new Set<string>();
  let offset = 8;
  let ihdr: Omit<PngInfo, 'chunks'> | undefined;
  while (offset + 12 <= bytes.length) {
    const length = view.getUint32(offset, false);
    const type = String.fromCharCode(bytes[offset + 4] ?? 0, bytes[offset + 5] ?? 0, bytes[offset + 6] ?? 0, bytes[offset + 7] ?? 0);
    const dataStart = offset + 8;
    if (dataStart + length + 4 > bytes.length) return undefined;
    if (type === 'IHDR') {
      if (length !== 13) return undefined;
      ihdr = {
        width: view.getUint32(dataStart, false),
        height: view.getUint32(dataStart + 4, false),
        bitDepth: bytes[dataStart + 8] ?? 0,
        colorType: bytes[dataStart + 9] ?? 0,
      };
    }
    chunks.add(type);
    offset = dataStart + length + 4;
    if (type === 'IEND') break;
  }
  if (!ihdr || !chunks.has('IEND')) return undefined;
  return { ...ihdr, chunks };
}
