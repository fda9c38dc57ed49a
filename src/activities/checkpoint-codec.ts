import type { Checkpoint } from '../ml/engine.js';
import type { EpochMetrics } from '../core/manifests.js';

/**
 * A checkpoint as one artifact: magic, header length, JSON header, then the model and
 * optimizer sections. Lengths are checked on decode, so a truncated file is rejected.
 */
const MAGIC = 'DVCK0001';

export interface StoredCheckpoint extends Checkpoint {
  /** Every epoch's metrics up to this checkpoint, so a resumed run keeps the full history. */
  history: EpochMetrics[];
}

interface Header {
  epoch: number;
  history: EpochMetrics[];
  modelBytes: number;
  optimizerBytes: number;
}

export function encodeCheckpoint(checkpoint: StoredCheckpoint): Uint8Array {
  const header: Header = {
    epoch: checkpoint.epoch,
    history: checkpoint.history,
    modelBytes: checkpoint.model.byteLength,
    optimizerBytes: checkpoint.optimizer.byteLength,
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const out = Buffer.alloc(MAGIC.length + 4 + headerBytes.length + header.modelBytes + header.optimizerBytes);
  let offset = out.write(MAGIC, 0, 'latin1');
  offset = out.writeUInt32LE(headerBytes.length, offset);
  offset += headerBytes.copy(out, offset);
  out.set(checkpoint.model, offset);
  out.set(checkpoint.optimizer, offset + header.modelBytes);
  return out;
}

export function decodeCheckpoint(bytes: Uint8Array, source: string): StoredCheckpoint {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < MAGIC.length + 4 || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) {
    throw new Error(`${source}: not a durable-vision checkpoint (bad magic)`);
  }
  const headerLength = buf.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4;
  if (start + headerLength > buf.length) throw new Error(`${source}: checkpoint header is truncated`);
  const header = JSON.parse(buf.toString('utf8', start, start + headerLength)) as Header;
  const modelStart = start + headerLength;
  const expected = modelStart + header.modelBytes + header.optimizerBytes;
  if (buf.length !== expected) {
    throw new Error(`${source}: checkpoint is ${buf.length} bytes, expected ${expected} (truncated or corrupt)`);
  }
  return {
    epoch: header.epoch,
    history: header.history,
    model: new Uint8Array(buf.subarray(modelStart, modelStart + header.modelBytes)),
    optimizer: new Uint8Array(buf.subarray(modelStart + header.modelBytes, expected)),
  };
}
