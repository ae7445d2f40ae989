import { S3 } from '@aws-sdk/client-s3';
import type { S3ServerProcess } from '../../tools/processes/s3-server.js';

export type S3Stats = Awaited<ReturnType<S3ServerProcess['stats']>>;
export type S3StatField = 'requests' | 'bytesIn' | 'bytesOut' | 'bytesCopied';

/** What the S3 server counted for `operation` between two snapshots. */
export const statsDiff = (before: S3Stats, after: S3Stats, operation: string, field: S3StatField): number =>
  (after[operation]?.[field] ?? 0) - (before[operation]?.[field] ?? 0);

/**
 * An SDK client for the test server, with the settings Tessera itself uses for third-party S3
 * (`WHEN_REQUIRED` checksums: no aws-chunked bodies), so both sides of a comparison send the
 * same kind of request.
 */
export function s3ClientFor(server: S3ServerProcess): S3 {
  return new S3({
    endpoint: server.endpoint,
    region: server.region,
    credentials: server.credentials,
    forcePathStyle: true,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** The environment that points Tessera at the test server's `bucket` (S3_BUCKET mode). */
export function tesseraS3Env(server: S3ServerProcess, bucket: string): Record<string, string> {
  return {
    S3_BUCKET: bucket,
    S3_ENDPOINT: server.endpoint,
    S3_REGION: server.region,
    S3_FORCE_PATH_STYLE: 'true',
    // The SDK reads these itself, as in production.
    AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
  };
}

/** Size of an object, or undefined when there is none. */
export async function objectSize(client: S3, bucket: string, key: string): Promise<number | undefined> {
  try {
    return (await client.headObject({ Bucket: bucket, Key: key })).ContentLength;
  } catch (error) {
    if ((error as { name?: string }).name === 'NotFound') return undefined;
    throw error;
  }
}

/** Empties the bucket (objects and unfinished multipart uploads), so disk use stays flat between runs. */
export async function emptyBucket(client: S3, bucket: string): Promise<void> {
  for (const upload of (await client.listMultipartUploads({ Bucket: bucket })).Uploads ?? []) {
    await client.abortMultipartUpload({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId });
  }
  // Bounded: each pass deletes up to 1000 keys, and a benchmark bucket holds a handful.
  for (let pass = 0; pass < 100; pass += 1) {
    const keys = ((await client.listObjectsV2({ Bucket: bucket })).Contents ?? []).map((o) => ({ Key: o.Key }));
    if (keys.length === 0) return;
    await client.deleteObjects({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } });
  }
  throw new Error(`bucket ${bucket} still not empty after 100 passes`);
}
