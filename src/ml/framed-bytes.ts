/**
 * One self-describing byte buffer: 4-byte magic, little-endian u32 header length, UTF-8 JSON
 * header, zero padding to an 8-byte boundary, then raw payload bytes. Model and optimizer
 * checkpoints use it so a single blob in the store is enough to restore them.
 */

const ALIGN = 8;

export function encodeFramed(magic: string, header: unknown, payload: Uint8Array): Uint8Array {
  if (magic.length !== 4) throw new Error(`magic must be 4 ASCII characters, got ${JSON.stringify(magic)}`);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const start = Math.ceil((8 + json.length) / ALIGN) * ALIGN;
  const out = new Uint8Array(start + payload.length);
  for (let i = 0; i < 4; i++) out[i] = magic.charCodeAt(i);
  new DataView(out.buffer).setUint32(4, json.length, true);
  out.set(json, 8);
  out.set(payload, start);
  return out;
}

export interface Framed<H> {
  header: H;
  /** A copy, so typed-array views over it are aligned and independent of the input buffer. */
  payload: ArrayBuffer;
}

export function decodeFramed<H>(magic: string, bytes: Uint8Array, what: string): Framed<H> {
  if (bytes.length < 8) throw new Error(`${what}: ${bytes.length} bytes is too short to hold a header`);
  const found = String.fromCharCode(bytes[0]!, bytes[1]!, bytes[2]!, bytes[3]!);
  if (found !== magic) throw new Error(`${what}: expected magic ${JSON.stringify(magic)}, got ${JSON.stringify(found)}`);
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
  if (8 + length > bytes.length) throw new Error(`${what}: header of ${length} bytes overruns the ${bytes.length}-byte buffer`);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as H;
  const start = Math.ceil((8 + length) / ALIGN) * ALIGN;
  // Uint8Array's slice copies; a Node Buffer's slice is a view into a shared pool, so its
  // `.buffer` would hold other data. Copy explicitly whatever the caller passed.
  const payload = Uint8Array.prototype.slice.call(bytes, start).buffer;
  return { header, payload };
}
