import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileArtifactStore } from '../../../src/storage/file-store.js';
import { openStore, parseStoreUri } from '../../../src/storage/open-store.js';
import { S3ArtifactStore } from '../../../src/storage/s3-store.js';

const cwd = '/work/project';

describe('parseStoreUri', () => {
  it.each([
    ['file:///srv/artifacts', '/srv/artifacts'],
    ['file://localhost/srv/artifacts', '/srv/artifacts'],
    ['file:///srv/with%20space', '/srv/with space'],
    ['file://.data/artifacts', '/work/project/.data/artifacts'],
    ['file:rel/dir', '/work/project/rel/dir'],
    ['file:/abs/dir', '/abs/dir'],
    ['./artifacts', '/work/project/artifacts'],
    ['artifacts', '/work/project/artifacts'],
    ['/srv/artifacts/', '/srv/artifacts'],
    ['../shared/store', '/work/shared/store'],
  ])('%s is the folder %s', (uri, dir) => {
    expect(parseStoreUri(uri, cwd)).toEqual({ kind: 'file', dir });
  });

  it.each([
    ['s3://bucket', 'bucket', ''],
    ['s3://bucket/', 'bucket', ''],
    ['s3://bucket/runs', 'bucket', 'runs'],
    ['s3://bucket/team/runs/', 'bucket', 'team/runs'],
    ['S3://bucket/x', 'bucket', 'x'],
  ])('%s is bucket %s, prefix %j', (uri, bucket, prefix) => {
    expect(parseStoreUri(uri, cwd)).toEqual({ kind: 's3', bucket, prefix });
  });

  it('resolves relative paths against the current directory by default', () => {
    expect(parseStoreUri('some/dir')).toEqual({ kind: 'file', dir: path.resolve('some/dir') });
  });

  it.each([
    ['', /must not be empty/],
    ['   ', /must not be empty/],
    ['gs://bucket/x', /unsupported store URI scheme "gs:" in "gs:\/\/bucket\/x"/],
    ['https://example.com/x', /unsupported store URI scheme "https:"/],
    ['s3://', /names no bucket/],
    ['s3:///prefix', /names no bucket/],
    ['file://', /names no folder/],
  ])('rejects %j with a message saying what is expected', (uri, message) => {
    expect(() => parseStoreUri(uri, cwd)).toThrow(message);
  });
});

describe('openStore', () => {
  it('opens a file store whose base URI is the absolute file URL', () => {
    const store = openStore('file://.data/artifacts', { cwd });
    expect(store).toBeInstanceOf(FileArtifactStore);
    expect(store.baseUri).toBe('file:///work/project/.data/artifacts');
    // Reopening from the base URI (what workflows pass to activities) finds the same folder.
    expect(openStore(store.baseUri).baseUri).toBe(store.baseUri);
    expect(store.uriOf('runs/r1/model.dvm')).toBe('file:///work/project/.data/artifacts/runs/r1/model.dvm');
  });

  it('opens an S3 store without contacting anything', () => {
    const store = openStore('s3://my-bucket/team/runs/', { s3: { endpoint: 'http://127.0.0.1:1', region: 'us-east-1' } });
    expect(store).toBeInstanceOf(S3ArtifactStore);
    expect(store.baseUri).toBe('s3://my-bucket/team/runs');
    expect(store.uriOf('a/b.bin')).toBe('s3://my-bucket/team/runs/a/b.bin');
    expect(store.keyOf('s3://my-bucket/team/runs/a/b.bin')).toBe('a/b.bin');
    expect(openStore('s3://my-bucket', { s3: { endpoint: 'http://127.0.0.1:1' } }).uriOf('k')).toBe('s3://my-bucket/k');
  });

  it('names the bad part of an S3 URI', () => {
    expect(() => openStore('s3://Bad_Bucket/x')).toThrow(/S3 bucket must be .* got "Bad_Bucket"/);
    expect(() => openStore('s3://bucket/a/../b')).toThrow(/invalid artifact key "a\/..\/b"/);
  });
});
