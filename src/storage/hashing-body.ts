import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';

/** The body types `ArtifactStore.put` accepts. */
export type ArtifactBody = Uint8Array | string | Readable;

/** Chunks of a body as Buffers; strings are UTF-8. Object-mode streams may yield strings. */
export async function* bodyChunks(body: ArtifactBody): AsyncGenerator<Buffer> {
  if (typeof body === 'string') {
    yield Buffer.from(body, 'utf8');
    return;
  }
  if (body instanceof Uint8Array) {
    yield Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    return;
  }
  if (!(body instanceof Readable)) {
    throw new TypeError(`artifact body must be a Uint8Array, string or Readable, got ${describe(body)}`);
  }
  for await (const chunk of body as AsyncIterable<unknown>) {
    if (typeof chunk === 'string') yield Buffer.from(chunk, 'utf8');
    else if (chunk instanceof Uint8Array) yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    else throw new TypeError(`artifact body stream yielded ${describe(chunk)}; expected Buffer, Uint8Array or string chunks`);
  }
}

/** Hex sha256 and byte count of whatever passes through, computed as it streams. */
export class HashingCounter {
  private readonly hash = createHash('sha256');
  size = 0;

  update(chunk: Buffer): void {
    this.hash.update(chunk);
    this.size += chunk.byteLength;
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return typeof value;
}
