/**
 * One image's decode result as data: pixels and source facts, or the quarantine reason. Batch
 * decoding (in worker threads or on this thread) uses it so one bad file never fails a batch;
 * only errors that are not about the image (bugs, bad options) still throw.
 */
import * as crypto from 'node:crypto';
import {
  decodeImage,
  ImageDecodeError,
  startDecode,
  type DecodedImage,
  type DecodeFailureReason,
  type DecodeOptions,
  type ResolvedDecodeOptions,
  type SourceImageInfo,
} from './decode.js';

export type DecodeOutcome =
  | { ok: true; pixels: Uint8Array; source: SourceImageInfo; sha256: string }
  | { ok: false; reason: DecodeFailureReason; detail: string; sha256: string };

/** An encoded image to decode, with the channel order its file stores. */
export interface DecodeItem {
  key: string;
  bytes: Uint8Array;
  channelOrder?: 'rgb' | 'bgr';
}

/** node:crypto's one-shot `hash` (Node >= 20.12): half the cost of createHash on a small file. */
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: 'hex') => string }).hash;

export function sha256Hex(bytes: Uint8Array): string {
  return oneShot ? oneShot('sha256', bytes, 'hex') : crypto.createHash('sha256').update(bytes).digest('hex');
}

/** Decodes one item; resolves to a failed outcome for a bad image, rejects for anything else. */
export async function decodeOutcome(item: DecodeItem, options: DecodeOptions): Promise<DecodeOutcome> {
  const sha256 = sha256Hex(item.bytes);
  const itemOptions: DecodeOptions = { ...options, key: item.key };
  if (item.channelOrder !== undefined) itemOptions.channelOrder = item.channelOrder;
  try {
    const { pixels, source } = await decodeImage(item.bytes, itemOptions);
    return { ok: true, pixels, source, sha256 };
  } catch (err) {
    if (err instanceof ImageDecodeError) return { ok: false, reason: err.reason, detail: err.detail, sha256 };
    throw err;
  }
}

/** A failed outcome for a bad image; anything else is rethrown. */
function failure(err: unknown, sha256: string): DecodeOutcome {
  if (err instanceof ImageDecodeError) return { ok: false, reason: err.reason, detail: err.detail, sha256 };
  throw err;
}

/**
 * `decodeOutcome` for batch decoders: options resolved once (`resolveDecodeOptions`, with the
 * item's key and channel order already in), pixels written into `out` at `offset`. Returns the
 * outcome synchronously when the fast PNG path (or a header check) settles it, else a promise.
 */
export function decodeOutcomeInto(bytes: Uint8Array, r: ResolvedDecodeOptions, out: Uint8Array, offset: number): DecodeOutcome | Promise<DecodeOutcome> {
  const sha256 = sha256Hex(bytes);
  let started: DecodedImage | Promise<DecodedImage>;
  try {
    started = startDecode(bytes, r, out, offset);
  } catch (err) {
    return failure(err, sha256);
  }
  if (!(started instanceof Promise)) return { ok: true, pixels: started.pixels, source: started.source, sha256 };
  return started.then(
    ({ pixels, source }): DecodeOutcome => ({ ok: true, pixels, source, sha256 }),
    (err: unknown) => failure(err, sha256),
  );
}
