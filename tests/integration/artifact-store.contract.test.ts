import { createHash, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { HeadObjectCommand, ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ArtifactNotFoundError, type ArtifactStore } from '../../src/storage/artifact-store.js';
import { InvalidArtifactKeyError } from '../../src/storage/artifact-key.js';
import { FileArtifactStore } from '../../src/storage/file-store.js';
import { S3ArtifactStore, type S3ArtifactStoreOptions } from '../../src/storage/s3-store.js';

const MiB = 1024 * 1024;

interface StoreUnderTest {
  store: ArtifactStore;
  /** URIs that lie outside the store; keyOf must refuse each. */
  foreignUris: string[];
  /** Everything physically under the store's base, bookkeeping included (temp files, uploads). */
  rawEntries(): Promise<string[]>;
  cleanup(): Promise<void>;
}

const sha256 = (data: Uint8Array | string): string => createHash('sha256').update(data).digest('hex');

/** Deterministic, incompressible-looking bytes, so a mixed-up part would change the hash. */
function pattern(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Streams `data` in `chunkSize` pieces, yielding to the event loop so it really streams. */
function streamOf(data: Buffer, chunkSize = MiB): Readable {
  return Readable.from(
    (async function* () {
      for (let offset = 0; offset < data.byteLength; offset += chunkSize) {
        await new Promise((resolve) => setImmediate(resolve));
        yield data.subarray(offset, offset + chunkSize);
      }
    })(),
  );
}

/** Streams `bytesBeforeFailure` bytes, then fails as a broken network source would. */
function failingStream(bytesBeforeFailure: number, message: string): Readable {
  return Readable.from(
    (async function* () {
      yield* streamOf(pattern(bytesBeforeFailure, 7), MiB);
      throw new Error(message);
    })(),
  );
}

const BAD_KEYS = ['', '/abs/key', 'a//b', 'a/../b', '..', './a', 'a/', 'a\\b', '.dv-tmp/x', 'a/.dv-meta/b', 'nul\u0000byte'];

function artifactStoreContract(name: string, open: () => Promise<StoreUnderTest>, options: { largeBytes: number }): void {
  describe(`ArtifactStore contract: ${name}`, () => {
    let t: StoreUnderTest;
    let store: ArtifactStore;
    beforeAll(async () => {
      t = await open();
      store = t.store;
    });
    afterAll(async () => {
      await t?.cleanup();
    });

    it('round-trips buffers, strings, Uint8Array views and empty bodies', async () => {
      const bytes = pattern(1000, 1);
      const view = new Uint8Array(bytes.buffer, bytes.byteOffset + 10, 100);
      await store.put('rt/buffer.bin', bytes);
      await store.put('rt/text.json', '{"ü":"✓"}', { contentType: 'application/json' });
      await store.put('rt/view.bin', view);
      await store.put('rt/empty', '');
      expect(await store.get('rt/buffer.bin')).toEqual(bytes);
      expect((await store.get('rt/text.json')).toString('utf8')).toBe('{"ü":"✓"}');
      expect(await store.get('rt/view.bin')).toEqual(Buffer.from(view));
      expect((await store.get('rt/empty')).byteLength).toBe(0);
    });

    it(`streams ${options.largeBytes / MiB} MiB in and out with the right sha256`, async () => {
      const data = pattern(options.largeBytes, 42);
      const info = await store.put('big/blob.bin', streamOf(data));
      expect(info).toEqual({ key: 'big/blob.bin', uri: store.uriOf('big/blob.bin'), size: data.byteLength, sha256: sha256(data) });
      expect(await store.stat('big/blob.bin')).toEqual(info);
      const parts: Buffer[] = [];
      for await (const chunk of await store.getStream('big/blob.bin')) parts.push(chunk as Buffer);
      expect(sha256(Buffer.concat(parts))).toBe(sha256(data));
      expect(sha256(await store.get('big/blob.bin'))).toBe(sha256(data));
    });

    it('records the sha256 of what was written and reports it from put, stat and list', async () => {
      const info = await store.put('sha/a.txt', 'hello');
      expect(info.sha256).toBe(sha256('hello'));
      expect(info.size).toBe(5);
      expect((await store.stat('sha/a.txt'))?.sha256).toBe(sha256('hello'));
      expect((await store.list('sha/')).map((i) => i.sha256)).toEqual([sha256('hello')]);
    });

    it('overwrites: the latest put wins, sha256 included', async () => {
      await store.put('ow/k', 'first');
      const info = await store.put('ow/k', 'second, longer');
      expect((await store.get('ow/k')).toString()).toBe('second, longer');
      expect(await store.stat('ow/k')).toEqual(info);
    });

    it('answers exists and stat for present and missing keys', async () => {
      await store.put('ex/here', 'x');
      expect(await store.exists('ex/here')).toBe(true);
      expect(await store.exists('ex/missing')).toBe(false);
      expect(await store.stat('ex/missing')).toBeUndefined();
      // A folder-like prefix of real keys is not itself an artifact.
      expect(await store.exists('ex')).toBe(false);
    });

    it('lists by prefix, sorted by key, nested keys included, bookkeeping hidden', async () => {
      for (const key of ['ls/b', 'ls/a/2', 'ls/a/10', 'ls/a/sub/deep.bin', 'ls/ab', 'ls/A']) await store.put(key, key);
      const keys = async (prefix: string): Promise<string[]> => (await store.list(prefix)).map((i) => i.key);
      expect(await keys('ls/a/')).toEqual(['ls/a/10', 'ls/a/2', 'ls/a/sub/deep.bin']);
      expect(await keys('ls/a')).toEqual(['ls/a/10', 'ls/a/2', 'ls/a/sub/deep.bin', 'ls/ab']);
      expect(await keys('ls/')).toEqual(['ls/A', 'ls/a/10', 'ls/a/2', 'ls/a/sub/deep.bin', 'ls/ab', 'ls/b']);
      expect(await keys('ls/nothing/')).toEqual([]);
      expect(await keys('no-such-prefix')).toEqual([]);
      const [first] = await store.list('ls/a/sub/');
      expect(first).toEqual({ key: 'ls/a/sub/deep.bin', uri: store.uriOf('ls/a/sub/deep.bin'), size: 17, sha256: sha256('ls/a/sub/deep.bin') });
      const all = await keys('');
      expect(all).toEqual([...all].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
      expect(all.some((key) => key.includes('.dv-'))).toBe(false);
    });

    it('lists across many keys (continuation pages where the store pages)', async () => {
      const keys = Array.from({ length: 25 }, (_, i) => `many/k-${String(i).padStart(3, '0')}`);
      await Promise.all(keys.map((key) => store.put(key, key)));
      expect((await store.list('many/')).map((i) => i.key)).toEqual(keys);
    });

    it('deletes, and deleting a missing key is not an error', async () => {
      await store.put('del/k', 'x');
      await store.delete('del/k');
      expect(await store.exists('del/k')).toBe(false);
      await expect(store.get('del/k')).rejects.toBeInstanceOf(ArtifactNotFoundError);
      expect(await store.list('del/')).toEqual([]);
      await expect(store.delete('del/never-there')).resolves.toBeUndefined();
    });

    it('throws ArtifactNotFoundError carrying the URI for a missing key', async () => {
      const uri = store.uriOf('missing/thing.bin');
      await expect(store.get('missing/thing.bin')).rejects.toMatchObject({ name: 'ArtifactNotFoundError', uri, message: `artifact not found: ${uri}` });
      await expect(store.getStream('missing/thing.bin')).rejects.toMatchObject({ name: 'ArtifactNotFoundError', uri });
    });

    it('leaves nothing visible when a stream fails midway, and keeps the earlier version intact', async () => {
      const before = await store.put('fail/kept', 'version 1');
      const rawBefore = await t.rawEntries();
      // Early (while a store may still be buffering) and late (mid-upload) failures.
      await expect(store.put('fail/kept', failingStream(100_000, 'source broke early'))).rejects.toThrow('source broke early');
      await expect(store.put('fail/kept', failingStream(options.largeBytes, 'source broke'))).rejects.toThrow('source broke');
      await expect(store.put('fail/new', failingStream(options.largeBytes, 'source broke again'))).rejects.toThrow('source broke again');
      expect((await store.get('fail/kept')).toString()).toBe('version 1');
      expect(await store.stat('fail/kept')).toEqual(before);
      expect(await store.exists('fail/new')).toBe(false);
      expect((await store.list('fail/')).map((i) => i.key)).toEqual(['fail/kept']);
      // No temp file, staging object or unfinished multipart upload is left behind either.
      expect(await t.rawEntries()).toEqual(rawBefore);
    });

    it('keeps concurrent writers of one key from mixing: the result is one whole body', async () => {
      const bodies = [pattern(300_000, 1), pattern(300_000, 2), pattern(300_000, 3)];
      await Promise.all(bodies.map((body) => store.put('race/k', body)));
      const got = await store.get('race/k');
      expect(bodies.map((b) => sha256(b))).toContain(sha256(got));
      expect((await store.stat('race/k'))?.sha256).toBe(sha256(got));
    });

    it.each(BAD_KEYS)('rejects the bad key %j, naming it', async (key) => {
      const named = { name: 'InvalidArtifactKeyError', key, message: expect.stringContaining(JSON.stringify(key)) };
      await expect(store.put(key, 'x')).rejects.toMatchObject(named);
      await expect(store.get(key)).rejects.toMatchObject(named);
      await expect(store.exists(key)).rejects.toMatchObject(named);
      await expect(store.stat(key)).rejects.toMatchObject(named);
      await expect(store.delete(key)).rejects.toMatchObject(named);
      // uriOf also names folders, so '' (the base) and 'a/' are fine there.
      if (key !== '' && key !== 'a/') expect(() => store.uriOf(key)).toThrow(InvalidArtifactKeyError);
    });

    it('round-trips uriOf and keyOf, prefixes included, and refuses foreign URIs', async () => {
      for (const key of ['a.bin', 'runs/r-1/model/model.dvm', 'with space/ünïcödé #1?.json', 'runs/', '']) {
        const uri = store.uriOf(key);
        expect(uri.startsWith(`${store.baseUri}/`)).toBe(true);
        expect(store.keyOf(uri)).toBe(key);
      }
      const info = await store.put('with space/ünïcödé #1?.json', '{}');
      expect(info.uri).toBe(store.uriOf(info.key));
      expect(store.keyOf(info.uri)).toBe(info.key);
      for (const foreign of t.foreignUris) {
        expect(() => store.keyOf(foreign), foreign).toThrow(foreign);
      }
    });
  });
}

artifactStoreContract(
  'FileArtifactStore',
  async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dv-file-store-'));
    const base = path.join(dir, 'store');
    const store = new FileArtifactStore(base);
    return {
      store,
      foreignUris: [`file://${dir}/elsewhere/x`, `${store.baseUri}-sibling/x`, 's3://bucket/x', 'https://example.com/x'],
      rawEntries: async () => walkFiles(base),
      cleanup: async () => rmSync(dir, { recursive: true, force: true }),
    };
  },
  { largeBytes: 12 * MiB },
);

const s3Variants: { name: string; options: Partial<S3ArtifactStoreOptions>; largeBytes: number }[] = [
  { name: 'S3ArtifactStore on SeaweedFS', options: {}, largeBytes: 20 * MiB },
  {
    // Small thresholds push modest bodies through every path: multipart staging, part-wise
    // server-side copy and paged listing.
    name: 'S3ArtifactStore on SeaweedFS, small parts and pages',
    options: { singlePutMaxBytes: MiB, partSizeBytes: 5 * MiB, copyPartThresholdBytes: 5 * MiB, listPageSize: 7 },
    largeBytes: 12 * MiB,
  },
];

for (const variant of s3Variants) {
  artifactStoreContract(
    variant.name,
    async () => {
      const s3 = inject('dvS3');
      if (s3 === undefined) throw new Error('global setup started no S3 server (DV_TEST_SERVERS=0?); this suite needs it');
      const client = new S3Client({
        endpoint: s3.endpoint,
        region: s3.region,
        forcePathStyle: true,
        credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
      });
      const prefix = `contract-${randomUUID()}`;
      const store = new S3ArtifactStore({ ...variant.options, client, bucket: s3.bucket, prefix });
      return {
        store,
        foreignUris: [`s3://${s3.bucket}/other-prefix/x`, `s3://${s3.bucket}/${prefix}-sibling/x`, `s3://other-bucket/${prefix}/x`, 'file:///tmp/x'],
        rawEntries: async () => rawS3Entries(client, s3.bucket, `${prefix}/`),
        cleanup: async () => client.destroy(),
      };
    },
    { largeBytes: variant.largeBytes },
  );
}

describe('FileArtifactStore specifics', () => {
  it('keeps plain files at <base>/<key> and falls back to hashing when a file changed behind its back', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dv-file-store-'));
    try {
      const store = new FileArtifactStore(dir);
      await store.put('data/x.txt', 'original');
      writeFileSync(path.join(dir, 'data', 'x.txt'), 'edited by hand');
      expect((await store.stat('data/x.txt'))?.sha256).toBe(sha256('edited by hand'));
      writeFileSync(path.join(dir, 'data', 'copied-in.txt'), 'no sidecar');
      expect((await store.list('data/')).map((i) => [i.key, i.sha256])).toEqual([
        ['data/copied-in.txt', sha256('no sidecar')],
        ['data/x.txt', sha256('edited by hand')],
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('S3ArtifactStore specifics', () => {
  it('stores the sha256 as x-amz-meta-sha256 on the object', async () => {
    const s3 = inject('dvS3');
    if (s3 === undefined) throw new Error('global setup started no S3 server');
    const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey } });
    try {
      const prefix = `meta-${randomUUID()}`;
      const store = new S3ArtifactStore({ client, bucket: s3.bucket, prefix, singlePutMaxBytes: 0, partSizeBytes: 5 * MiB });
      const small = await store.put('small.txt', 'abc', { contentType: 'text/plain' });
      const staged = await store.put('staged.bin', streamOf(pattern(6 * MiB, 3)));
      for (const info of [small, staged]) {
        const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${prefix}/${info.key}` }));
        expect(head.Metadata?.sha256).toBe(info.sha256);
      }
      expect(await rawS3Entries(client, s3.bucket, `${prefix}/`)).toEqual([`${prefix}/small.txt`, `${prefix}/staged.bin`]);
    } finally {
      client.destroy();
    }
  });
});

function walkFiles(root: string, rel = ''): string[] {
  let entries;
  try {
    entries = readdirSync(path.join(root, rel), { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .flatMap((entry) => {
      const child = rel === '' ? entry.name : `${rel}/${entry.name}`;
      return entry.isDirectory() ? walkFiles(root, child) : [child];
    })
    .sort();
}

async function rawS3Entries(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const entries: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    entries.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix }));
  entries.push(...(uploads.Uploads ?? []).map((u) => `unfinished upload: ${u.Key ?? ''}`));
  return entries.sort();
}
