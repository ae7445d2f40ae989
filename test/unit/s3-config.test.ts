import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

const MiB = 1024 * 1024;

function errorOf(env: NodeJS.ProcessEnv): string {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('S3 configuration', () => {
  it('keeps the file store unless S3_BUCKET is set', () => {
    expect(loadConfig({}).s3).toBeUndefined();
  });

  it('S3_BUCKET alone means AWS with the defaults', () => {
    const { s3 } = loadConfig({ S3_BUCKET: 'uploads' });
    expect(s3).toEqual({ bucket: 'uploads', endpoint: undefined, region: 'us-east-1', forcePathStyle: false, partSize: 8 * MiB, expectContinue: false, networkTimeoutMs: 30_000 });
    expect(Object.isFrozen(s3)).toBe(true);
    // Credentials are the SDK's business (AWS_ACCESS_KEY_ID and friends), never copied into config.
    expect(loadConfig({ S3_BUCKET: 'uploads', AWS_ACCESS_KEY_ID: 'AKIA', AWS_SECRET_ACCESS_KEY: 's' }).s3?.credentials).toBeUndefined();
  });

  it('reads an S3-compatible endpoint, region, path style and part size', () => {
    const { s3 } = loadConfig({
      S3_BUCKET: 'tus',
      S3_ENDPOINT: 'http://minio:9000',
      S3_REGION: 'eu-central-1',
      AWS_REGION: 'us-west-2',
      S3_FORCE_PATH_STYLE: 'true',
      S3_PART_SIZE: String(16 * MiB),
      S3_EXPECT_CONTINUE: 'true',
      S3_NETWORK_TIMEOUT: '10s',
    });
    expect(s3).toEqual({ bucket: 'tus', endpoint: 'http://minio:9000', region: 'eu-central-1', forcePathStyle: true, partSize: 16 * MiB, expectContinue: true, networkTimeoutMs: 10_000 });
  });

  it('falls back to AWS_REGION when S3_REGION is not set', () => {
    expect(loadConfig({ S3_BUCKET: 'tus', AWS_REGION: 'ap-south-1' }).s3?.region).toBe('ap-south-1');
  });

  it('refuses part sizes outside S3 limits, bad endpoints and S3 settings without a bucket', () => {
    expect(errorOf({ S3_BUCKET: 'tus', S3_PART_SIZE: String(5 * MiB - 1) })).toMatch(/^Invalid configuration: S3_PART_SIZE must be an integer from 5242880 to 5368709120/);
    expect(errorOf({ S3_BUCKET: 'tus', S3_PART_SIZE: '8MiB' })).toMatch(/S3_PART_SIZE/);
    expect(errorOf({ S3_BUCKET: 'tus', S3_ENDPOINT: 'minio:9000' })).toMatch(/S3_ENDPOINT must be an http:\/\/ or https:\/\/ URL/);
    expect(errorOf({ S3_BUCKET: 'tus', S3_EXPECT_CONTINUE: 'sometimes' })).toMatch(/S3_EXPECT_CONTINUE must be true or false/);
    expect(errorOf({ S3_BUCKET: 'a/b' })).toMatch(/S3_BUCKET must be a bucket name/);
    expect(errorOf({ S3_ENDPOINT: 'http://minio:9000' })).toMatch(/S3_ENDPOINT and S3_REGION need S3_BUCKET/);
  });
});
