import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCopyCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { ArtifactNotFoundError, type ArtifactInfo, type ArtifactStore, type PutOptions } from './artifact-store.js';
import { compareKeys, isReservedKey, RESERVED_SEGMENT_PREFIX, validateKey, validatePrefix } from './artifact-key.js';
import { bodyChunks, HashingCounter, type ArtifactBody } from './hashing-body.js';
import { resolveS3ClientConfig, type S3ConnectionOptions } from './s3-config.js';

const MiB = 1024 * 1024;
/** Metadata key; S3 sends it as the `x-amz-meta-sha256` header. */
const SHA256_META = 'sha256';
/** Concurrent HEAD requests while listing (list results carry no user metadata). */
const HEAD_CONCURRENCY = 16;

export interface S3ArtifactStoreOptions extends S3ConnectionOptions {
  bucket: string;
  /** Key prefix inside the bucket (no leading or trailing `/`). Defaults to the bucket root. */
  prefix?: string;
  /** A ready client; when given, the connection options are ignored. */
  client?: S3Client;
  /** Bodies up to this size are buffered and sent as one PutObject. Defaults to 16 MiB. */
  singlePutMaxBytes?: number;
  /** Multipart upload part size. Defaults to 16 MiB (S3's minimum is 5 MiB). */
  partSizeBytes?: number;
  /** Objects larger than this are copied part by part. Defaults to 5 GiB, CopyObject's limit. */
  copyPartThresholdBytes?: number;
  /** Keys per ListObjectsV2 page. Defaults to 1000, S3's maximum. */
  listPageSize?: number;
}

/**
 * Artifacts as objects under `s3://bucket/prefix/`. Every write names its sha256 in the object's
 * metadata, which S3 needs before the first byte; so a body larger than `singlePutMaxBytes`
 * streams (multipart, hashed on the way) to a staging key under `.dv-tmp/`, and a server-side
 * copy then publishes it under its key with the sha256. S3 shows neither the staging object nor
 * the final one before its upload completes, and a failed upload is aborted and its staging
 * object removed, so readers never see a partial artifact.
 */
export class S3ArtifactStore implements ArtifactStore {
  readonly baseUri: string;
  readonly bucket: string;
  readonly prefix: string;
  readonly client: S3Client;
  private readonly singlePutMaxBytes: number;
  private readonly partSizeBytes: number;
  private readonly copyPartThresholdBytes: number;
  private readonly listPageSize: number;

  constructor(options: S3ArtifactStoreOptions) {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) {
      throw new Error(`S3 bucket must be 3-63 lowercase letters, digits, '.' or '-', got ${JSON.stringify(options.bucket)}`);
    }
    const prefix = (options.prefix ?? '').replace(/\/+$/, '');
    if (prefix !== '') validateKey(prefix);
    this.bucket = options.bucket;
    this.prefix = prefix;
    this.baseUri = `s3://${this.bucket}${prefix === '' ? '' : `/${prefix}`}`;
    this.client = options.client ?? new S3Client(resolveS3ClientConfig(options));
    this.partSizeBytes = positive('partSizeBytes', options.partSizeBytes ?? 16 * MiB, 5 * MiB);
    this.singlePutMaxBytes = positive('singlePutMaxBytes', options.singlePutMaxBytes ?? 16 * MiB, 0);
    this.copyPartThresholdBytes = positive('copyPartThresholdBytes', options.copyPartThresholdBytes ?? 5 * 1024 * MiB, 5 * MiB);
    this.listPageSize = positive('listPageSize', options.listPageSize ?? 1000, 1);
  }

  uriOf(key: string): string {
    return `${this.baseUri}/${validatePrefix(key)}`;
  }

  keyOf(uri: string): string {
    const base = `${this.baseUri}/`;
    if (!uri.startsWith(base)) throw new Error(`URI ${JSON.stringify(uri)} is not inside store ${this.baseUri}: expected it to start with ${base}`);
    return validatePrefix(uri.slice(base.length));
  }

  async put(key: string, body: ArtifactBody, options?: PutOptions): Promise<ArtifactInfo> {
    validateKey(key);
    const counter = new HashingCounter();
    const chunks = bodyChunks(body)[Symbol.asyncIterator]();
    const head: Buffer[] = [];
    let buffered = 0;
    let ended = false;
    try {
      while (buffered <= this.singlePutMaxBytes) {
        const next = await chunks.next();
        if (next.done === true) {
          ended = true;
          break;
        }
        counter.update(next.value);
        head.push(next.value);
        buffered += next.value.byteLength;
      }
    } catch (error) {
      if (body instanceof Readable) body.destroy();
      throw error;
    }
    if (ended) {
      const sha256 = counter.digest();
      const content = Buffer.concat(head, buffered);
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.objectKey(key),
          Body: content,
          ContentLength: content.byteLength,
          ContentType: options?.contentType,
          Metadata: { [SHA256_META]: sha256 },
        }),
      );
      return { uri: this.uriOf(key), key, size: content.byteLength, sha256 };
    }
    return this.putStaged(key, head, chunks, counter, body, options);
  }

  async get(key: string): Promise<Buffer> {
    const stream = await this.getStream(key);
    const parts: Buffer[] = [];
    for await (const chunk of stream) parts.push(chunk as Buffer);
    return Buffer.concat(parts);
  }

  async getStream(key: string): Promise<Readable> {
    validateKey(key);
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      if (!(response.Body instanceof Readable)) throw new Error(`GetObject ${this.uriOf(key)} returned no readable body`);
      return response.Body;
    } catch (error) {
      if (isNotFound(error)) throw new ArtifactNotFoundError(this.uriOf(key));
      throw error;
    }
  }

  async exists(key: string): Promise<boolean> {
    validateKey(key);
    return (await this.head(key)) !== undefined;
  }

  async stat(key: string): Promise<ArtifactInfo | undefined> {
    validateKey(key);
    const found = await this.head(key);
    if (found === undefined) return undefined;
    let sha256 = found.sha256;
    if (sha256 === undefined) {
      // Objects written by other tools carry no sha256; hashing the content keeps stat honest.
      const counter = new HashingCounter();
      for await (const chunk of await this.getStream(key)) counter.update(chunk as Buffer);
      sha256 = counter.digest();
    }
    return { uri: this.uriOf(key), key, size: found.size, sha256 };
  }

  async list(prefix: string): Promise<ArtifactInfo[]> {
    validatePrefix(prefix);
    const keys: string[] = [];
    let continuationToken: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: this.objectKey(prefix),
          ContinuationToken: continuationToken,
          MaxKeys: this.listPageSize,
        }),
      );
      for (const object of page.Contents ?? []) {
        const key = object.Key?.slice(this.objectKey('').length);
        // Staging objects and keys this store could not address (folder markers written by
        // other tools, `a//b`) are not artifacts.
        if (key !== undefined && !isReservedKey(key) && isValidKey(key)) keys.push(key);
      }
      continuationToken = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (continuationToken !== undefined);
    keys.sort(compareKeys);
    const infos = new Array<ArtifactInfo | undefined>(keys.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      for (let i = next++; i < keys.length; i = next++) infos[i] = await this.stat(keys[i] as string);
    };
    await Promise.all(Array.from({ length: Math.min(HEAD_CONCURRENCY, keys.length) }, worker));
    return infos.filter((info): info is ArtifactInfo => info !== undefined);
  }

  async delete(key: string): Promise<void> {
    validateKey(key);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
  }

  private objectKey(key: string): string {
    return this.prefix === '' ? key : `${this.prefix}/${key}`;
  }

  private async head(key: string): Promise<{ size: number; sha256: string | undefined } | undefined> {
    try {
      const response = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return { size: response.ContentLength ?? 0, sha256: response.Metadata?.[SHA256_META] };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  private async putStaged(
    key: string,
    head: Buffer[],
    rest: AsyncIterator<Buffer>,
    counter: HashingCounter,
    body: ArtifactBody,
    options: PutOptions | undefined,
  ): Promise<ArtifactInfo> {
    const staging = this.objectKey(`${RESERVED_SEGMENT_PREFIX}tmp/${randomUUID()}`);
    async function* remaining(): AsyncGenerator<Buffer> {
      yield* head;
      for (let next = await rest.next(); next.done !== true; next = await rest.next()) {
        counter.update(next.value);
        yield next.value;
      }
    }
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: staging, Body: Readable.from(remaining()), ContentType: options?.contentType },
      partSize: this.partSizeBytes,
      queueSize: 4,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      // Upload has aborted the multipart upload; the staging key never became visible.
      if (body instanceof Readable) body.destroy();
      throw error;
    }
    const sha256 = counter.digest();
    try {
      await this.publish(staging, key, counter.size, sha256, options);
    } finally {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: staging }));
    }
    return { uri: this.uriOf(key), key, size: counter.size, sha256 };
  }

  /** Server-side copy of the staged object to its key, with the sha256 in the new metadata. */
  private async publish(staging: string, key: string, size: number, sha256: string, options: PutOptions | undefined): Promise<void> {
    const target = { Bucket: this.bucket, Key: this.objectKey(key), ContentType: options?.contentType, Metadata: { [SHA256_META]: sha256 } };
    const copySource = `${this.bucket}/${encodeURIComponent(staging).replace(/%2F/g, '/')}`;
    if (size <= this.copyPartThresholdBytes) {
      await this.client.send(new CopyObjectCommand({ ...target, CopySource: copySource, MetadataDirective: 'REPLACE' }));
      return;
    }
    const { UploadId } = await this.client.send(new CreateMultipartUploadCommand(target));
    if (UploadId === undefined) throw new Error(`CreateMultipartUpload for ${this.uriOf(key)} returned no UploadId`);
    try {
      const parts: CompletedPart[] = [];
      const partSize = this.copyPartThresholdBytes;
      for (let start = 0, partNumber = 1; start < size; start += partSize, partNumber++) {
        const end = Math.min(start + partSize, size) - 1;
        const { CopyPartResult } = await this.client.send(
          new UploadPartCopyCommand({
            Bucket: this.bucket,
            Key: target.Key,
            UploadId,
            PartNumber: partNumber,
            CopySource: copySource,
            CopySourceRange: `bytes=${start}-${end}`,
          }),
        );
        parts.push({ PartNumber: partNumber, ETag: CopyPartResult?.ETag });
      }
      await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: target.Key, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (error) {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: target.Key, UploadId })).catch(() => undefined);
      throw error;
    }
  }
}

function isValidKey(key: string): boolean {
  try {
    validateKey(key);
    return true;
  } catch {
    return false;
  }
}

function isNotFound(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as { name?: unknown; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

function positive(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) throw new Error(`S3ArtifactStore ${name} must be an integer >= ${min}, got ${value}`);
  return value;
}
