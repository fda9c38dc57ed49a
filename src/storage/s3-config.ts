import type { S3ClientConfig } from '@aws-sdk/client-s3';

/** Where an S3 store connects; every field falls back to the standard AWS environment. */
export interface S3ConnectionOptions {
  /** Defaults to `AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`, then AWS itself. */
  endpoint?: string;
  /** Defaults to `AWS_REGION`, then `AWS_DEFAULT_REGION`, then `us-east-1` when an endpoint is set. */
  region?: string;
  /** Defaults to the SDK's provider chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, profiles, ...). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * Path-style URLs (`endpoint/bucket/key`) instead of virtual-hosted ones (`bucket.endpoint/key`).
   * Defaults to `AWS_S3_FORCE_PATH_STYLE`, else true when a custom endpoint is set, since most
   * self-hosted S3 servers (SeaweedFS, MinIO) have no per-bucket DNS names.
   */
  forcePathStyle?: boolean;
}

/** Builds the S3 client configuration from explicit options over the environment. */
export function resolveS3ClientConfig(options: S3ConnectionOptions = {}, env: NodeJS.ProcessEnv = process.env): S3ClientConfig {
  const endpoint = options.endpoint ?? nonEmpty(env.AWS_ENDPOINT_URL_S3) ?? nonEmpty(env.AWS_ENDPOINT_URL);
  if (endpoint !== undefined && !/^https?:\/\/[^/]/.test(endpoint)) {
    throw new Error(`S3 endpoint must be an http:// or https:// URL, got ${JSON.stringify(endpoint)}`);
  }
  const region =
    options.region ?? nonEmpty(env.AWS_REGION) ?? nonEmpty(env.AWS_DEFAULT_REGION) ?? (endpoint !== undefined ? 'us-east-1' : undefined);
  const forcePathStyle = options.forcePathStyle ?? parseFlag('AWS_S3_FORCE_PATH_STYLE', env.AWS_S3_FORCE_PATH_STYLE) ?? endpoint !== undefined;
  const config: S3ClientConfig = { forcePathStyle };
  if (endpoint !== undefined) config.endpoint = endpoint;
  if (region !== undefined) config.region = region;
  if (options.credentials !== undefined) config.credentials = options.credentials;
  return config;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function parseFlag(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  const lower = value.toLowerCase();
  if (lower === '1' || lower === 'true') return true;
  if (lower === '0' || lower === 'false') return false;
  throw new Error(`${name} must be 1, 0, true or false, got ${JSON.stringify(value)}`);
}
