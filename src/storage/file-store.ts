import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ArtifactNotFoundError, type ArtifactInfo, type ArtifactStore, type PutOptions } from './artifact-store.js';
import { compareKeys, RESERVED_SEGMENT_PREFIX, validateKey, validatePrefix } from './artifact-key.js';
import { bodyChunks, HashingCounter, type ArtifactBody } from './hashing-body.js';

/** Sidecars live in their own tree so artifact folders hold only artifacts. */
const META_DIR = `${RESERVED_SEGMENT_PREFIX}meta`;
const TEMP_PREFIX = `${RESERVED_SEGMENT_PREFIX}tmp-`;
/** Concurrent sidecar reads while listing; enough to hide latency, few enough for fd limits. */
const LIST_CONCURRENCY = 32;

/**
 * What the sidecar knows about one artifact file. `ino`, `size` and `mtimeMs` identify the file
 * it was written for: the content rename and the sidecar rename cannot happen together, so a
 * sidecar that does not match the file is stale and the sha256 is computed from the file.
 */
interface Sidecar {
  sha256: string;
  size: number;
  ino: number;
  mtimeMs: number;
  contentType?: string;
}

/**
 * Artifacts as plain files under a base folder (`<base>/<key>`), so other tools can read them by
 * path. A write goes to a temp file in the target's folder, is fsynced, then renamed over the
 * target: readers see the old file or the new one, never a partial one.
 */
export class FileArtifactStore implements ArtifactStore {
  readonly baseDir: string;
  readonly baseUri: string;

  /** `baseDir` is resolved against the current directory; it is created on first write. */
  constructor(baseDir: string) {
    if (baseDir === '') throw new Error('FileArtifactStore baseDir must be a folder path, got an empty string');
    this.baseDir = path.resolve(baseDir);
    this.baseUri = pathToFileURL(this.baseDir).href.replace(/\/$/, '');
  }

  uriOf(key: string): string {
    validatePrefix(key);
    if (key === '') return `${this.baseUri}/`;
    const uri = pathToFileURL(this.pathOf(key)).href;
    return key.endsWith('/') && !uri.endsWith('/') ? `${uri}/` : uri;
  }

  keyOf(uri: string): string {
    const foreign = (why: string): Error => new Error(`URI ${JSON.stringify(uri)} is not inside store ${this.baseUri}: ${why}`);
    if (!uri.startsWith('file:')) throw foreign('expected a file: URI');
    let file: string;
    try {
      file = fileURLToPath(uri);
    } catch (error) {
      throw foreign(error instanceof Error ? error.message : String(error));
    }
    const relative = path.relative(this.baseDir, file);
    if (relative === '') return '';
    if (relative.startsWith('..') || path.isAbsolute(relative)) throw foreign(`it lies outside ${this.baseDir}`);
    const key = relative.split(path.sep).join('/') + (uri.endsWith('/') ? '/' : '');
    return validatePrefix(key);
  }

  async put(key: string, body: ArtifactBody, options?: PutOptions): Promise<ArtifactInfo> {
    validateKey(key);
    const target = this.pathOf(key);
    const sidecarPath = this.sidecarPathOf(key);
    await this.makeFolder(key, path.dirname(target));
    await this.makeFolder(key, path.dirname(sidecarPath));
    const temp = path.join(path.dirname(target), `${TEMP_PREFIX}${randomUUID()}`);
    const sidecarTemp = path.join(path.dirname(sidecarPath), `${TEMP_PREFIX}${randomUUID()}`);
    let handle: FileHandle | undefined;
    try {
      handle = await open(temp, 'wx', 0o644);
      const counter = new HashingCounter();
      for await (const chunk of bodyChunks(body)) {
        counter.update(chunk);
        await writeAll(handle, chunk);
      }
      await handle.sync();
      const fileStat = await handle.stat();
      await handle.close();
      handle = undefined;
      const sidecar: Sidecar = { sha256: counter.digest(), size: counter.size, ino: fileStat.ino, mtimeMs: fileStat.mtimeMs };
      if (options?.contentType !== undefined) sidecar.contentType = options.contentType;
      await writeFileSynced(sidecarTemp, JSON.stringify(sidecar));
      await rename(temp, target).catch((error: unknown) => {
        throw isCode(error, 'EISDIR', 'ENOTEMPTY', 'EEXIST')
          ? new Error(`cannot put ${JSON.stringify(key)} in ${this.baseUri}: ${target} is a folder of other artifacts`)
          : error;
      });
      await rename(sidecarTemp, sidecarPath);
      await syncFolder(path.dirname(target));
      return { uri: this.uriOf(key), key, size: sidecar.size, sha256: sidecar.sha256 };
    } catch (error) {
      await handle?.close().catch(() => undefined);
      await rm(temp, { force: true });
      await rm(sidecarTemp, { force: true });
      if (typeof body === 'object' && 'destroy' in body) body.destroy();
      throw error;
    }
  }

  async get(key: string): Promise<Buffer> {
    validateKey(key);
    try {
      return await readFile(this.pathOf(key));
    } catch (error) {
      if (isCode(error, 'ENOENT', 'ENOTDIR', 'EISDIR')) throw new ArtifactNotFoundError(this.uriOf(key));
      throw error;
    }
  }

  async getStream(key: string): Promise<Readable> {
    validateKey(key);
    // Opening first makes a missing artifact fail here, as the contract says, rather than
    // as an 'error' event on a stream the caller may already have piped somewhere.
    let handle: FileHandle;
    try {
      handle = await open(this.pathOf(key), 'r');
    } catch (error) {
      if (isCode(error, 'ENOENT', 'ENOTDIR')) throw new ArtifactNotFoundError(this.uriOf(key));
      throw error;
    }
    if (!(await handle.stat()).isFile()) {
      await handle.close();
      throw new ArtifactNotFoundError(this.uriOf(key));
    }
    return handle.createReadStream();
  }

  async exists(key: string): Promise<boolean> {
    validateKey(key);
    return (await this.fileStat(key)) !== undefined;
  }

  async stat(key: string): Promise<ArtifactInfo | undefined> {
    validateKey(key);
    const fileStat = await this.fileStat(key);
    if (fileStat === undefined) return undefined;
    const sidecar = await this.readSidecar(key);
    if (sidecar !== undefined && sidecar.ino === fileStat.ino && sidecar.size === fileStat.size && sidecar.mtimeMs === fileStat.mtimeMs) {
      return { uri: this.uriOf(key), key, size: sidecar.size, sha256: sidecar.sha256 };
    }
    // No sidecar (a file copied in by hand) or a stale one (a writer stopped between its two
    // renames): the file itself is complete, so hashing it gives the right answer.
    const counter = new HashingCounter();
    try {
      for await (const chunk of createReadStream(this.pathOf(key))) counter.update(chunk as Buffer);
    } catch (error) {
      if (isCode(error, 'ENOENT')) return undefined;
      throw error;
    }
    return { uri: this.uriOf(key), key, size: counter.size, sha256: counter.digest() };
  }

  async list(prefix: string): Promise<ArtifactInfo[]> {
    validatePrefix(prefix);
    const folderKey = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const keys: string[] = [];
    await walk(folderKey === '' ? this.baseDir : this.pathOf(folderKey), folderKey, (key) => {
      if (key.startsWith(prefix)) keys.push(key);
    });
    keys.sort(compareKeys);
    const infos: (ArtifactInfo | undefined)[] = new Array<ArtifactInfo | undefined>(keys.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < keys.length; i = next++) infos[i] = await this.stat(keys[i] as string);
    };
    await Promise.all(Array.from({ length: Math.min(LIST_CONCURRENCY, keys.length) }, worker));
    // A key deleted between the walk and its stat is simply no longer there.
    return infos.filter((info): info is ArtifactInfo => info !== undefined);
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    // The file goes first: once it is gone the artifact is gone, whatever happens to the sidecar.
    await unlinkIfPresent(this.pathOf(key));
    await unlinkIfPresent(this.sidecarPathOf(key));
  }

  private pathOf(key: string): string {
    return path.join(this.baseDir, ...key.split('/'));
  }

  private sidecarPathOf(key: string): string {
    return `${path.join(this.baseDir, META_DIR, ...key.split('/'))}.json`;
  }

  private async fileStat(key: string): Promise<{ ino: number; size: number; mtimeMs: number } | undefined> {
    try {
      const found = await lstat(this.pathOf(key));
      return found.isFile() ? found : undefined;
    } catch (error) {
      if (isCode(error, 'ENOENT', 'ENOTDIR')) return undefined;
      throw error;
    }
  }

  private async readSidecar(key: string): Promise<Sidecar | undefined> {
    let text: string;
    try {
      text = await readFile(this.sidecarPathOf(key), 'utf8');
    } catch (error) {
      if (isCode(error, 'ENOENT', 'ENOTDIR', 'EISDIR')) return undefined;
      throw error;
    }
    try {
      const parsed: unknown = JSON.parse(text);
      if (isSidecar(parsed)) return parsed;
    } catch {
      // A damaged sidecar is treated like a missing one: the file is hashed instead.
    }
    return undefined;
  }

  private async makeFolder(key: string, folder: string): Promise<void> {
    try {
      await mkdir(folder, { recursive: true });
    } catch (error) {
      if (isCode(error, 'ENOTDIR', 'EEXIST')) {
        throw new Error(`cannot put ${JSON.stringify(key)} in ${this.baseUri}: a parent of ${folder} is an artifact file, not a folder`);
      }
      throw error;
    }
  }
}

async function walk(folder: string, folderKey: string, visit: (key: string) => void): Promise<void> {
  let entries;
  try {
    entries = await readdir(folder, { withFileTypes: true });
  } catch (error) {
    if (isCode(error, 'ENOENT', 'ENOTDIR')) return;
    throw error;
  }
  for (const entry of entries) {
    if (entry.name.startsWith(RESERVED_SEGMENT_PREFIX)) continue;
    const key = folderKey === '' ? entry.name : `${folderKey}/${entry.name}`;
    if (entry.isDirectory()) await walk(path.join(folder, entry.name), key, visit);
    else if (entry.isFile()) visit(key);
  }
}

async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
    offset += bytesWritten;
  }
}

async function writeFileSynced(file: string, text: string): Promise<void> {
  const handle = await open(file, 'wx', 0o644);
  try {
    await writeAll(handle, Buffer.from(text, 'utf8'));
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Makes a rename in `folder` survive power loss; best effort where the OS cannot. */
async function syncFolder(folder: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(folder, 'r');
    await handle.sync();
  } catch {
    // Some platforms and filesystems refuse fsync on folders; the rename itself already happened.
  } finally {
    await handle?.close();
  }
}

async function unlinkIfPresent(file: string): Promise<void> {
  try {
    await rm(file);
  } catch (error) {
    if (!isCode(error, 'ENOENT', 'ENOTDIR', 'EISDIR', 'ERR_FS_EISDIR')) throw error;
  }
}

function isSidecar(value: unknown): value is Sidecar {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.sha256 === 'string' && typeof v.size === 'number' && typeof v.ino === 'number' && typeof v.mtimeMs === 'number';
}

function isCode(error: unknown, ...codes: string[]): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && codes.includes(String((error as { code: unknown }).code));
}
