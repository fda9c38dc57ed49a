import { randomBytes } from 'node:crypto';

/**
 * Points the standard AWS environment at the SeaweedFS server the global setup started, so
 * `openStore('s3://…')` (and any CLI child process) talks to it like to any S3 endpoint, and
 * returns a fresh prefix in the test bucket.
 */
export function testS3StoreUri(name: string): string {
  const need = (key: string) => {
    const value = process.env[key];
    if (!value) throw new Error(`${key} is not set: run integration tests through vitest's global setup (npm test)`);
    return value;
  };
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_S3: need('DV_TEST_S3_ENDPOINT'),
    AWS_ACCESS_KEY_ID: need('DV_TEST_S3_ACCESS_KEY'),
    AWS_SECRET_ACCESS_KEY: need('DV_TEST_S3_SECRET_KEY'),
    AWS_REGION: need('DV_TEST_S3_REGION'),
  });
  return `s3://${need('DV_TEST_S3_BUCKET')}/${name}-${randomBytes(4).toString('hex')}`;
}
