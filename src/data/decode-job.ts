/**
 * One decode job's format and work, shared by the worker threads of `DecodePool` and by the
 * pool's lane on the calling thread: a batch of encoded images in one buffer in, one pixel
 * buffer and the outcomes as packed arrays out.
 */
import { resolveDecodeOptions, type DecodeFailureReason, type DecodeOptions } from './decode.js';
import { decodeOutcomeInto, type DecodeOutcome } from './decode-outcome.js';
import type { ImageFormat } from './image-sniff.js';
import { prepareImageSimd } from './image-simd.js';

/** A batch of encoded images, concatenated into `bytes`; image i is `bytes[offsets[i], offsets[i+1])`. */
export interface DecodeJob {
  id: number;
  /**
   * 'tensor': pack every image's pixels, failing the job on the first bad image.
   * 'outcomes': one outcome per image; bad images do not fail the job.
   */
  kind: 'tensor' | 'outcomes';
  options: DecodeOptions;
  keys: string[];
  offsets: number[];
  bytes: ArrayBuffer;
  /** Per image, 1 where the file stores BGR ('outcomes' jobs). */
  bgr?: Uint8Array;
}

/**
 * The outcomes of an 'outcomes' job without their pixels (which travel packed in `pixels`), in
 * arrays rather than an object per image: structured cloning (and then collecting) 256 small
 * objects per job cost more than decoding a 28x28 PNG.
 */
export interface WireOutcomes {
  /** Per image, `SOURCE_FIELDS` numbers: format code (-1: a bad image), width, height, channels, bit depth, has alpha, orientation (0: none). */
  source: Int32Array<ArrayBuffer>;
  sha256: string[];
  /** The bad images: index in the job, reason and detail. */
  failures: { index: number; reason: DecodeFailureReason; detail: string }[];
}

export const SOURCE_FIELDS = 7;

/** Format codes of `WireOutcomes.source`. */
export const WIRE_FORMATS: readonly ImageFormat[] = ['png', 'jpeg', 'webp', 'gif', 'tiff', 'avif', 'heif'];

export type DecodeReply =
  | { id: number; ok: true; pixels: ArrayBuffer; outcomes?: WireOutcomes }
  | { id: number; ok: false; key: string; message: string; reason?: DecodeFailureReason };

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

/**
 * Sharp decodes a worker keeps in flight. They run on libuv's threads (4 by default), so while
 * some decode, this thread reads the next images' headers and hashes them; 3 keeps 2 cores busy
 * with one worker (`autoWorkers` on 2 cores).
 */
const SHARP_IN_FLIGHT = 3;

/**
 * Decodes an 'outcomes' job: every image's pixels into one buffer, its outcome into `WireOutcomes`.
 * A bad image is an outcome; the reply fails only for an error that is not about an image.
 */
export async function runOutcomes(job: DecodeJob): Promise<DecodeReply> {
  const { height, width, channels } = job.options;
  const imageBytes = height * width * channels;
  const out = new Uint8Array(imageBytes * job.keys.length);
  const all = new Uint8Array(job.bytes);
  const wire: WireOutcomes = { source: new Int32Array(job.keys.length * SOURCE_FIELDS), sha256: new Array<string>(job.keys.length), failures: [] };
  const put = (i: number, outcome: DecodeOutcome): void => {
    wire.sha256[i] = outcome.sha256;
    const f = i * SOURCE_FIELDS;
    if (!outcome.ok) {
      wire.source[f] = -1;
      wire.failures.push({ index: i, reason: outcome.reason, detail: outcome.detail });
      return;
    }
    const { source } = outcome;
    wire.source[f] = FORMAT_CODES[source.format];
    wire.source[f + 1] = source.width;
    wire.source[f + 2] = source.height;
    wire.source[f + 3] = source.channels;
    wire.source[f + 4] = source.bitDepth;
    wire.source[f + 5] = source.hasAlpha ? 1 : 0;
    wire.source[f + 6] = source.orientation ?? 0;
  };
  // The JS decode paths' SIMD kernels, built once per thread before the first job's decodes.
  await prepareImageSimd();
  // The first error that is not about an image (a bug or bad options): the whole job fails.
  let failed: { key: string; err: unknown } | undefined;
  const pending = new Set<Promise<void>>();
  let current = job.keys[0] ?? '';
  try {
    // Validated once per job. Outcomes carry the detail without the key, so the key stays out.
    const rgb = { ...resolveDecodeOptions(job.options), bgr: false };
    const bgr = { ...rgb, bgr: true };
    for (let i = 0; i < job.keys.length && !failed; i++) {
      const key = job.keys[i] ?? '';
      current = key;
      const bytes = all.subarray(job.offsets[i], job.offsets[i + 1]);
      const result = decodeOutcomeInto(bytes, job.bgr?.[i] === 1 ? bgr : rgb, out, i * imageBytes);
      if (!(result instanceof Promise)) {
        put(i, result);
        continue;
      }
      const settle: Promise<void> = result.then(
        (outcome) => put(i, outcome),
        (err: unknown) => {
          failed ??= { key, err };
        },
      );
      pending.add(settle);
      void settle.then(() => pending.delete(settle));
      if (pending.size >= SHARP_IN_FLIGHT) await Promise.race(pending);
    }
  } catch (err) {
    failed ??= { key: current, err };
  }
  await Promise.all(pending);
  if (failed) return { id: job.id, ok: false, key: failed.key, message: describe(failed.err) };
  return { id: job.id, ok: true, pixels: out.buffer, outcomes: wire };
}

const FORMAT_CODES = Object.fromEntries(WIRE_FORMATS.map((f, i) => [f, i])) as Record<ImageFormat, number>;
