import { randomBytes } from 'node:crypto';
import type { S3 } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../support/bytes.js';
import { final, partial, sha256Hex } from '../support/concat.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { bucketContents, idOf, newBucket, s3ClientFor, startS3Server, startTesseraOnS3, type S3ServerProcess } from '../support/s3.js';
import type { RunningTessera } from '../support/tessera.js';
import { create, head, patch, TUS } from '../support/tus-http.js';

const MiB = 1024 * 1024;

/** Two instances sharing Redis and one bucket: what one instance changes, the other must see. */
describe('S3 in shared mode (two instances, Redis, one bucket)', () => {
  let redis: RedisProcess;
  let s3: S3ServerProcess;
  let client: S3;
  let bucket: string;
  let a: RunningTessera;
  let b: RunningTessera;

  beforeAll(async () => {
    [redis, s3] = await Promise.all([startRedis(), startS3Server()]);
    client = s3ClientFor(s3);
    bucket = await newBucket(client, 'shared');
    const shared = { redis: { url: redis.url, lockUrls: [redis.url], prefix: 'tessera-s3:' } };
    a = await startTesseraOnS3(s3, bucket, shared);
    b = await startTesseraOnS3(s3, bucket, shared);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([redis?.stop(), s3?.stop()]);
  });

  const on = (server: RunningTessera, url: string) => url.replace(new URL(url).origin, server.baseUrl);

  it('a length declared through one instance is seen by the other, which then completes the upload', async () => {
    const data = randomBytes(9 * MiB);
    const { url } = await create(a.endpoint, { defer: true });
    expect((await patch(url, 0, data.subarray(0, 6 * MiB))).status).toBe(204);
    // B declares the length (tus: Upload-Length on a PATCH) with the next 2 MiB.
    const declare = await fetch(on(b, url), {
      method: 'PATCH',
      headers: { ...TUS, 'Upload-Offset': String(6 * MiB), 'Upload-Length': String(data.length), 'Content-Type': 'application/offset+octet-stream' },
      body: data.subarray(6 * MiB, 8 * MiB),
    });
    expect(declare.status).toBe(204);
    // A must not answer from a stale copy of the upload info (no length, no completion).
    const last = await patch(url, 8 * MiB, data.subarray(8 * MiB));
    expect(last.status).toBe(204);
    expect((await head(url)).headers.get('upload-length')).toBe(String(data.length));
    expect(digestOf(Buffer.from(await (await fetch(on(b, url))).arrayBuffer()))).toBe(digestOf(data));
    const id = idOf(url);
    expect((await bucketContents(client, bucket)).objects.filter((k) => k.startsWith(id))).toEqual([id, `${id}.info`]);
  });

  it('partials uploaded through different instances are assembled inside S3 by the one that receives the final', async () => {
    const pieces = [randomBytes(6 * MiB), randomBytes(5 * MiB + 3)];
    const urls = [await partial(a.endpoint, pieces[0] as Buffer), await partial(b.endpoint, pieces[1] as Buffer)];
    const whole = Buffer.concat(pieces);
    const before = await s3.stats();
    // Behind a load balancer both instances share one host; here B names the partials by its own.
    const { res, url } = await final(b.endpoint, urls.map((u) => on(b, u)), { sha256: sha256Hex(whole) });
    expect(res.status).toBe(201);
    const after = await s3.stats();
    expect((after.UploadPartCopy?.requests ?? 0) - (before.UploadPartCopy?.requests ?? 0)).toBe(2);
    expect((after.UploadPart?.bytesIn ?? 0) - (before.UploadPart?.bytesIn ?? 0)).toBe(0);
    const viaA = await head(on(a, url));
    expect(viaA.headers.get('tessera-sha256')).toBe(sha256Hex(whole));
    expect(digestOf(Buffer.from(await (await fetch(on(a, url))).arrayBuffer()))).toBe(digestOf(whole));
  });
});
