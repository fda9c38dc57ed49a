/** Worker-thread side of `DecodePool`: decodes each job's images in order and packs the pixels. */
import { parentPort, workerData } from 'node:worker_threads';
import { decodeImage, ImageDecodeError, useSharpLock } from './decode.js';
import { runOutcomes, type DecodeJob, type DecodeReply } from './decode-job.js';
import type { DecodeWorkerData } from './decode-pool.js';

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

port.on('message', (job: DecodeJob) => {
  const run = job.kind === 'outcomes' ? runOutcomes : runTensor;
  void run(job)
    .catch((err: unknown): DecodeReply => ({ id: job.id, ok: false, key: job.keys[0] ?? '', message: describe(err) }))
    .then((reply) => {
      if (reply.ok) port.postMessage(reply, reply.outcomes ? [reply.pixels, reply.outcomes.source.buffer] : [reply.pixels]);
      else port.postMessage(reply);
    });
});
