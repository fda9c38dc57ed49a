import { describe, expect, it } from 'vitest';
import { resolveS3ClientConfig } from '../../../src/storage/s3-config.js';

describe('resolveS3ClientConfig', () => {
  it('uses AWS itself (virtual-hosted, region from the SDK chain) when nothing is set', () => {
    expect(resolveS3ClientConfig({}, {})).toEqual({ forcePathStyle: false });
  });

  it('prefers AWS_ENDPOINT_URL_S3 over AWS_ENDPOINT_URL and defaults to path style and us-east-1 there', () => {
    expect(resolveS3ClientConfig({}, { AWS_ENDPOINT_URL: 'http://general:1', AWS_ENDPOINT_URL_S3: 'http://s3only:2' })).toEqual({
      endpoint: 'http://s3only:2',
      region: 'us-east-1',
      forcePathStyle: true,
    });
    expect(resolveS3ClientConfig({}, { AWS_ENDPOINT_URL: 'http://general:1', AWS_REGION: 'eu-west-1' })).toEqual({
      endpoint: 'http://general:1',
      region: 'eu-west-1',
      forcePathStyle: true,
    });
  });

  it('lets AWS_S3_FORCE_PATH_STYLE and explicit options override the defaults', () => {
    expect(resolveS3ClientConfig({}, { AWS_ENDPOINT_URL_S3: 'http://x:1', AWS_S3_FORCE_PATH_STYLE: '0' }).forcePathStyle).toBe(false);
    expect(resolveS3ClientConfig({}, { AWS_S3_FORCE_PATH_STYLE: 'true' }).forcePathStyle).toBe(true);
    expect(resolveS3ClientConfig({ forcePathStyle: false, region: 'ap-south-1' }, { AWS_ENDPOINT_URL_S3: 'http://x:1', AWS_REGION: 'eu-west-1' })).toEqual({
      endpoint: 'http://x:1',
      region: 'ap-south-1',
      forcePathStyle: false,
    });
  });

  it('passes explicit credentials through and otherwise leaves them to the SDK', () => {
    const credentials = { accessKeyId: 'a', secretAccessKey: 's' };
    expect(resolveS3ClientConfig({ credentials }, {}).credentials).toEqual(credentials);
    expect(resolveS3ClientConfig({}, { AWS_ACCESS_KEY_ID: 'a', AWS_SECRET_ACCESS_KEY: 's' }).credentials).toBeUndefined();
  });

  it('names the variable and value it cannot use', () => {
    expect(() => resolveS3ClientConfig({}, { AWS_S3_FORCE_PATH_STYLE: 'yes' })).toThrow('AWS_S3_FORCE_PATH_STYLE must be 1, 0, true or false, got "yes"');
    expect(() => resolveS3ClientConfig({}, { AWS_ENDPOINT_URL_S3: 'localhost:8333' })).toThrow('S3 endpoint must be an http:// or https:// URL, got "localhost:8333"');
  });
});
