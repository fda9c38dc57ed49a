/**
 * One image's decode result as data: pixels and source facts, or the quarantine reason. Batch
 * decoding (in worker threads or on this thread) uses it so one bad file never fails a batch;
 * only errors that are not about the image (bugs, bad options) still throw.
 */
import { createHash } from 'node:crypto';
import { decodeImage, ImageDecodeError, type DecodeFailureReason, type DecodeOptions, type SourceImageInfo } from './decode.js';

export type DecodeOutcome =
  | { ok: true; pixels: Uint8Array; source: SourceImageInfo; sha256: string }
  | { ok: false; reason: DecodeFailureReason; detail: string; sha256: string };

/** An encoded image to decode, with the channel order its file stores. */
export interface DecodeItem {
  key: string;
  bytes: Uint8Array;
  channelOrder?: 'rgb' | 'bgr';
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
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
