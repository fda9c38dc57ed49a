/** Worker-thread side of `DecodePool`: decodes each job's images in order and packs the pixels. */
import { parentPort, workerData } from 'node:worker_threads';
import { decodeImage, ImageDecodeError, resolveDecodeOptions, useSharpLock } from './decode.js';
import { decodeOutcomeInto, type DecodeOutcome } from './decode-outcome.js';
import { SOURCE_FIELDS, WIRE_FORMATS, type DecodeJob, type DecodeReply, type DecodeWorkerData, type WireOutcomes } from './decode-pool.js';
import type { ImageFormat } from './image-sniff.js';

const port = parentPort;
if (!port) throw new Error('decode-worker.ts must run in a worker thread');
const { sharpLock } = (workerData ?? {}) as Partial<DecodeWorkerData>;
if (sharpLock instanceof SharedArrayBuffer) useSharpLock(sharpLock);

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}

async function runTensor(job: DecodeJob): Promise<DecodeReply> {
  const { height, width, channels } = job.options;
  const imageBytes = height * width * channels;
  const out = new Uint8Array(imageBytes * job.keys.length);
  const all = new Uint8Array(job.bytes);
  for (let i = 0; i < job.keys.length; i++) {
    const key = job.keys[i] ?? '';
    try {
      const bytes = all.subarray(job.offsets[i], job.offsets[i + 1]);
      out.set((await decodeImage(bytes, { ...job.options, key })).pixels, i * imageBytes);
    } catch (err) {
      if (err instanceof ImageDecodeError) return { id: job.id, ok: false, key, message: err.detail, reason: err.reason };
      return { id: job.id, ok: false, key, message: describe(err) };
    }
  }
  return { id: job.id, ok: true, pixels: out.buffer };
}

/**
 * Sharp decodes a worker keeps in flight. They run on libuv's threads (4 by default), so while
 * some decode, this thread reads the next images' headers and hashes them; 3 keeps 2 cores busy
 * with one worker (`autoWorkers` on 2 cores).
 */
const SHARP_IN_FLIGHT = 3;

async function runOutcomes(job: DecodeJob): Promise<DecodeReply> {
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

port.on('message', (job: DecodeJob) => {
  const run = job.kind === 'outcomes' ? runOutcomes : runTensor;
  void run(job)
    .catch((err: unknown): DecodeReply => ({ id: job.id, ok: false, key: job.keys[0] ?? '', message: describe(err) }))
    .then((reply) => {
      if (reply.ok) port.postMessage(reply, reply.outcomes ? [reply.pixels, reply.outcomes.source.buffer] : [reply.pixels]);
      else port.postMessage(reply);
    });
});
