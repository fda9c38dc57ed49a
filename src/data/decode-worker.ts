/** Worker-thread side of `DecodePool`: decodes each job's images in order and packs the pixels. */
import { parentPort } from 'node:worker_threads';
import { decodeImage, ImageDecodeError } from './decode.js';
import { decodeOutcome } from './decode-outcome.js';
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

async function runOutcomes(job: DecodeJob): Promise<DecodeReply> {
  const { height, width, channels } = job.options;
  const imageBytes = height * width * channels;
  const out = new Uint8Array(imageBytes * job.keys.length);
  const all = new Uint8Array(job.bytes);
  const outcomes: WireOutcome[] = [];
  for (let i = 0; i < job.keys.length; i++) {
    const key = job.keys[i] ?? '';
    const bytes = all.subarray(job.offsets[i], job.offsets[i + 1]);
    try {
      const outcome = await decodeOutcome({ key, bytes, channelOrder: job.bgr?.[i] === 1 ? 'bgr' : 'rgb' }, job.options);
      if (outcome.ok) {
        out.set(outcome.pixels, i * imageBytes);
        outcomes.push({ ok: true, source: outcome.source, sha256: outcome.sha256 });
      } else {
        outcomes.push(outcome);
      }
    } catch (err) {
      // Not a bad image: a bug or bad options. The whole job fails.
      return { id: job.id, ok: false, key, message: describe(err) };
    }
  }
  return { id: job.id, ok: true, pixels: out.buffer, outcomes };
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
