/** Worker-thread side of `DecodePool`: decodes each job's images in order and packs the pixels. */
import { parentPort } from 'node:worker_threads';
import { decodeToTensor, ImageDecodeError } from './decode.js';
import type { DecodeJob, DecodeReply } from './decode-pool.js';

const port = parentPort;
if (!port) throw new Error('decode-worker.ts must run in a worker thread');

async function run(job: DecodeJob): Promise<DecodeReply> {
  const { height, width, channels } = job.options;
  const imageBytes = height * width * channels;
  const out = new Uint8Array(imageBytes * job.keys.length);
  const all = new Uint8Array(job.bytes);
  for (let i = 0; i < job.keys.length; i++) {
    const key = job.keys[i] ?? '';
    try {
      const bytes = all.subarray(job.offsets[i], job.offsets[i + 1]);
      out.set(await decodeToTensor(bytes, { ...job.options, key }), i * imageBytes);
    } catch (err) {
      if (err instanceof ImageDecodeError) return { id: job.id, ok: false, key, message: err.detail, decodeError: true };
      return { id: job.id, ok: false, key, message: err instanceof Error ? err.message : String(err), decodeError: false };
    }
  }
  return { id: job.id, ok: true, pixels: out.buffer };
}

port.on('message', (job: DecodeJob) => {
  void run(job).then((reply) => {
    if (reply.ok) port.postMessage(reply, [reply.pixels]);
    else port.postMessage(reply);
  });
});
