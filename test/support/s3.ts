import { randomBytes } from 'node:crypto';
import { S3 } from '@aws-sdk/client-s3';
import type { Config, S3Config } from '../../src/config/config.js';
import type { TesseraOptions } from '../../src/server.js';
import { s3ClientConfig } from '../../src/stores/s3/s3-store-adapter.js';
import { inject } from 'vitest';
import { startS3FaultProxy } from '../../tools/processes/s3-fault-proxy.js';
import { startS3Server, type S3ServerProcess } from '../../tools/processes/s3-server.js';
import type { SharedRgw } from './shared-ceph-rgw.js';
import { startTessera, type RunningTessera } from './tessera.js';

export { startS3Server, type S3ServerProcess };

/** Tessera's S3 settings for `bucket` on the test server (path-style, test credentials). */
export function s3ConfigFor(server: S3ServerProcess, bucket: string, partSize = 5 * 1024 * 1024): S3Config {
  return {
    bucket,
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    partSize,
    expectContinue: false,
    credentials: server.credentials,
  };
}

/** An SDK client for looking at the bucket from the outside, configured as Tessera's. */
export function s3ClientFor(server: S3ServerProcess): S3 {
  const { bucket: _bucket, ...config } = s3ClientConfig(s3ConfigFor(server, 'unused'));
  return new S3(config);
}

/** A fresh bucket with a unique name, so tests sharing one server do not see each other. */
export async function newBucket(client: S3, label: string): Promise<string> {
  const name = `${label}-${randomBytes(4).toString('hex')}`.toLowerCase();
  await client.createBucket({ Bucket: name });
  return name;
}

/** Every object key in the bucket, as S3 lists it, sorted (bucketContents leaves Tessera's own records out). */
export async function allKeys(client: S3, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.listObjectsV2({ Bucket: bucket, ContinuationToken: token });
    keys.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

/** Everything in the bucket: object keys (sorted) and unfinished multipart uploads. */
export async function bucketContents(client: S3, bucket: string): Promise<{ objects: string[]; uploads: string[] }> {
  const objects = await allKeys(client, bucket);
  const uploads = (await client.listMultipartUploads({ Bucket: bucket })).Uploads ?? [];
  // Lifecycle records and links (`.tessera-state/`) are listed apart: bucketRecords; hook
  // notifications waiting for delivery (`.tessera-hooks/`) are no upload's leftovers.
  return { objects: objects.filter((key) => !key.startsWith(RECORDS) && !key.startsWith('.tessera-hooks/')), uploads: uploads.map((u) => u.Key ?? '').sort() };
}

const RECORDS = '.tessera-state/';

/** Tessera's lifecycle records and partial → final links in the bucket. */
export async function bucketRecords(client: S3, bucket: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.listObjectsV2({ Bucket: bucket, Prefix: RECORDS, ContinuationToken: token });
    keys.push(...(page.Contents ?? []).map((o) => o.Key ?? ''));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

/** Tessera storing in `bucket` on the test S3 server. */
export function startTesseraOnS3(
  server: S3ServerProcess,
  bucket: string,
  overrides: Partial<Config> = {},
  options: Omit<TesseraOptions, 'config'> = {},
): Promise<RunningTessera> {
  return startTessera({ s3: s3ConfigFor(server, bucket), ...overrides }, options);
}

/**
 * The S3 implementations tests run against: tools/s3-server (ours: fast, and it can fail or
 * damage a request from inside), and Ceph's RGW behind tools/processes/s3-fault-proxy (a real
 * S3 implementation; the proxy plays the same faults on the way).
 */
export const S3_BACKENDS = ['s3-test-server', 'ceph-rgw'] as const;
export type S3Backend = (typeof S3_BACKENDS)[number];

export function startS3Backend(backend: S3Backend): Promise<S3ServerProcess> {
  return backend === 'ceph-rgw' ? rgwBehindFaultProxy() : startS3Server();
}

/**
 * The run's Ceph RGW (see shared-ceph-rgw.ts) behind a fault proxy of this test file's own; the
 * cluster is shared, so stopping the proxy leaves it running, and tests keep to their buckets.
 */
async function rgwBehindFaultProxy(): Promise<S3ServerProcess> {
  const res = await fetch(inject('cephRgwBroker'), { signal: AbortSignal.timeout(150_000) });
  if (!res.ok) throw new Error(`Ceph RGW did not start: ${await res.text()}`);
  const rgw = (await res.json()) as SharedRgw;
  return startS3FaultProxy({ ...rgw, stop: async () => {} });
}

/** An S3 server (the test server unless told) with a fresh bucket and a Tessera on it; `stop()` stops both. */
export async function startS3WithTessera(
  label: string,
  overrides: Partial<Config> = {},
  backend: S3Backend = 's3-test-server',
): Promise<{ s3: S3ServerProcess; server: RunningTessera; stop(): Promise<void> }> {
  const s3 = await startS3Backend(backend);
  const server = await startTesseraOnS3(s3, await newBucket(s3ClientFor(s3), label), overrides);
  return {
    s3,
    server,
    async stop() {
      await server.stop();
      await s3.stop();
    },
  };
}

export const idOf = (url: string): string => decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
