/** Worker-thread side of `DecodePool`: decodes each job's images in order and packs the pixels. */
import { parentPort } from 'node:worker_threads';
import { decodeImage, ImageDecodeError, resolveDecodeOptions } from './decode.js';
import { decodeOutcomeInto, type DecodeOutcome } from './decode-outcome.js';
import type { DecodeJob, DecodeReply, WireOutcome } from './decode-pool.js';

const port = parentPort;
if (!port) throw new Error('decode-worker.ts must run in a worker thread');

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

/** Sharp decodes a worker keeps in flight: while one runs on libuv's threads, this thread reads the next image's header. */
const SHARP_IN_FLIGHT = 2;

async function runOutcomes(job: DecodeJob): Promise<DecodeReply> {
  const { height, width, channels } = job.options;
  const imageBytes = height * width * channels;
  const out = new Uint8Array(imageBytes * job.keys.length);
  const all = new Uint8Array(job.bytes);
  const outcomes = new Array<WireOutcome>(job.keys.length);
  // The first error that is not about an image (a bug or bad options): the whole job fails.
  let failed: { key: string; err: unknown } | undefined;
  const pending = new Set<Promise<void>>();
  let current = job.keys[0] ?? '';
  try {
    // Validated once per job.
    const base = resolveDecodeOptions(job.options);
    for (let i = 0; i < job.keys.length && !failed; i++) {
      const key = job.keys[i] ?? '';
      current = key;
      const bytes = all.subarray(job.offsets[i], job.offsets[i + 1]);
      const result = decodeOutcomeInto(bytes, { ...base, key, bgr: job.bgr?.[i] === 1 }, out, i * imageBytes);
      if (!(result instanceof Promise)) {
        outcomes[i] = wire(result);
        continue;
      }
      const settle: Promise<void> = result.then(
        (outcome) => {
          outcomes[i] = wire(outcome);
        },
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
  return { id: job.id, ok: true, pixels: out.buffer, outcomes };
}

/** The outcome without its pixels, which travel packed in the job's buffer. */
function wire(outcome: DecodeOutcome): WireOutcome {
  return outcome.ok ? { ok: true, source: outcome.source, sha256: outcome.sha256 } : outcome;
}

port.on('message', (job: DecodeJob) => {
  const run = job.kind === 'outcomes' ? runOutcomes : runTensor;
  void run(job)
    .catch((err: unknown): DecodeReply => ({ id: job.id, ok: false, key: job.keys[0] ?? '', message: describe(err) }))
    .then((reply) => {
      if (reply.ok) port.postMessage(reply, [reply.pixels]);
      else port.postMessage(reply);
    });
});
