import { afterAll, describe, expect, it } from 'vitest';
import { resolveManifestPath } from '../../../../src/data/sources/manifest-path.js';
import { S3ArtifactStore } from '../../../../src/storage/s3-store.js';
import { TempTree } from './helpers.js';

const tree = new TempTree();
afterAll(() => tree.remove());
const root = tree.open(tree.path('data'));
const s3Root = new S3ArtifactStore({ bucket: 'images', prefix: 'set1', endpoint: 'http://127.0.0.1:1', region: 'us-east-1' });

describe('resolveManifestPath', () => {
  it('resolves relative paths inside the root, normalising ./, inner .., repeated and back slashes', () => {
    expect(resolveManifestPath('cat/1.png', root)).toEqual({ ok: true, key: 'cat/1.png' });
    expect(resolveManifestPath('./cat//a/../1.png', root)).toEqual({ ok: true, key: 'cat/1.png' });
    expect(resolveManifestPath('cat\\1.png', root)).toEqual({ ok: true, key: 'cat/1.png' });
    expect(resolveManifestPath('.hidden/odd name %20.png', root)).toEqual({ ok: true, key: '.hidden/odd name %20.png' });
  });

  it('accepts absolute paths and URIs that lie inside the root', () => {
    expect(resolveManifestPath(tree.path('data/cat/1.png'), root)).toEqual({ ok: true, key: 'cat/1.png' });
    expect(resolveManifestPath(tree.uri('data/cat/1.png'), root)).toEqual({ ok: true, key: 'cat/1.png' });
    expect(resolveManifestPath('s3://images/set1/cat/1.png', s3Root)).toEqual({ ok: true, key: 'cat/1.png' });
  });

  const traversals: [string, string, RegExp][] = [
    ['.. escaping the root', '../secret.png', /climbs above the root/],
    ['.. escaping after a folder', 'cat/../../secret.png', /climbs above the root/],
    ['backslash ..', '..\\..\\etc\\passwd', /climbs above the root/],
    ['absolute path outside', '/etc/passwd', /absolute path "\/etc\/passwd" points outside the root/],
    ['file URI outside', 'file:///etc/passwd', /file: URI .* points outside the root/],
    ['file URI sibling folder', tree.uri('data-other/x.png'), /points outside the root/],
    ['s3 URI on a local root', 's3://other-bucket/x.png', /s3: URI .* points outside the root/],
    ['http URI', 'http://example.com/x.png', /http: URI/],
    ['Windows drive', 'C:\\Windows\\system.ini', /absolute Windows path/],
    ['UNC path', '\\\\server\\share\\x.png', /network path/],
    ['NUL byte', 'cat/1.png\u0000.txt', /NUL byte/],
    ['percent-encoded dots', '%2e%2e/%2e%2e/etc/passwd', /percent-encoding/],
    ['percent-encoded dots and slash', '..%2F..%2Fetc%2Fpasswd', /percent-encoding/],
    ['percent-encoded dots inside', 'cat/%2E%2E/1.png', /percent-encoding/],
  ];
  for (const [name, raw, why] of traversals) {
    it(`rejects ${name} as path traversal`, () => {
      const result = resolveManifestPath(raw, root);
      expect(result).toMatchObject({ ok: false, reason: 'path-traversal' });
      if (!result.ok) expect(result.why).toMatch(why);
    });
  }

  it('rejects S3 URIs outside an S3 root, including sibling prefixes and .. segments', () => {
    for (const raw of ['s3://images/set1-other/x.png', 's3://other/set1/x.png', 's3://images/set1/../x.png', tree.path('x.png')]) {
      expect(resolveManifestPath(raw, s3Root)).toMatchObject({ ok: false, reason: 'path-traversal' });
    }
  });

  it('calls folders and names the stores cannot hold unreadable', () => {
    expect(resolveManifestPath('cat/', root)).toMatchObject({ ok: false, reason: 'unreadable', why: expect.stringMatching(/names a folder/) });
    expect(resolveManifestPath('cat/..', root)).toMatchObject({ ok: false, reason: 'unreadable' });
    expect(resolveManifestPath('.dv-meta/x.png', root)).toMatchObject({ ok: false, reason: 'unreadable', why: expect.stringMatching(/reserved/) });
    expect(resolveManifestPath('cat/\u0001.png', root)).toMatchObject({ ok: false, reason: 'unreadable' });
  });
});
