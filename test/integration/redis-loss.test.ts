import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { final, partial, sha256Hex } from '../support/concat.js';
import { waitFor } from '../support/fault-wait.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { newBucket, s3ClientFor, startS3Server, startTesseraOnS3, type S3ServerProcess } from '../support/s3.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, head, patch, randomData } from '../support/tus-http.js';

/**
 * Issue #14, finding 7: shared mode without Redis persistence (a common setup). Upload info and
 * lifecycle records live beside the data on the shared volume, so a Redis that is flushed, or
 * restarted empty, loses locks and counters only: every upload, finished or not, answers as
 * before, resumes, completes, and is swept as before.
 */
const on = (server: RunningTessera, url: string) => url.replace(new URL(url).origin, server.baseUrl);

describe('shared mode (file store) when Redis loses everything', () => {
  let redis: RedisProcess;
  let dataDir: string;
  let a: RunningTessera;
  let b: RunningTessera;

  beforeAll(async () => {
    redis = await startRedis();
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-redis-loss-'));
    const shared = { dataDir, redis: { url: redis.url, lockUrls: [redis.url], prefix: 'loss:' } };
    a = await startTessera(shared);
    b = await startTessera(shared);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it.each(['FLUSHALL', 'a restart without persistence'])('after %s every upload answers, resumes, completes and verifies as before', async (loss) => {
    const done = randomData(3000);
    const doneUpload = await create(a.endpoint, { length: done.length, metadata: { sha256: sha256Hex(done) } });
    expect((await patch(doneUpload.url, 0, done)).status).toBe(204);
    const half = randomData(2000);
    const halfUpload = await create(a.endpoint, { length: half.length, metadata: { sha256: sha256Hex(half) } });
    expect((await patch(halfUpload.url, 0, half.subarray(0, 1000))).status).toBe(204);
    const first = await partial(a.endpoint, Buffer.from('hello '));
    const second = await create(a.endpoint, { length: 5, headers: { 'Upload-Concat': 'partial' } });
    const fin = await final(a.endpoint, [first, second.url], { sha256: sha256Hex(Buffer.from('hello world')) });
    expect(fin.res.status).toBe(201);

    if (loss === 'FLUSHALL') {
      const client = new Redis(redis.url);
      await client.flushall();
      client.disconnect();
    } else {
      const port = Number(new URL(redis.url).port);
      await redis.stop();
      redis = await startRedis(port);
      // Each instance finds Redis again by itself.
      for (const server of [a, b]) await waitFor('the instance to be ready again', async () => ((await fetch(`${server.baseUrl}/readyz`)).status === 200 ? true : undefined));
    }

    for (const server of [a, b]) {
      const look = await head(on(server, doneUpload.url));
      expect(look.status).toBe(200);
      expect(look.headers.get('tessera-upload-status')).toBe('done');
      expect(look.headers.get('tessera-sha256')).toBe(sha256Hex(done));
      expect(Buffer.from(await (await fetch(on(server, doneUpload.url))).arrayBuffer()).equals(done)).toBe(true);
      expect((await head(on(server, halfUpload.url))).headers.get('upload-offset')).toBe('1000');
      expect((await head(on(server, fin.url))).headers.get('tessera-upload-status')).toBe('pending');
    }
    expect((await patch(on(b, halfUpload.url), 1000, half.subarray(1000))).status).toBe(204);
    expect((await head(on(a, halfUpload.url))).headers.get('tessera-upload-status')).toBe('done');
    // The last partial completes through the other instance, which assembles and verifies the final.
    expect((await patch(on(b, second.url), 0, Buffer.from('world'))).status).toBe(204);
    const assembled = await head(on(a, fin.url));
    expect(assembled.headers.get('tessera-upload-status')).toBe('done');
    expect(await (await fetch(on(a, fin.url))).text()).toBe('hello world');
  });
});

describe('shared mode on S3 when Redis loses everything', () => {
  let redis: RedisProcess;
  let s3: S3ServerProcess;
  let a: RunningTessera;
  let b: RunningTessera;

  beforeAll(async () => {
    [redis, s3] = await Promise.all([startRedis(), startS3Server()]);
    const bucket = await newBucket(s3ClientFor(s3), 'redis-loss');
    const shared = { redis: { url: redis.url, lockUrls: [redis.url], prefix: 'loss-s3:' } };
    a = await startTesseraOnS3(s3, bucket, shared);
    b = await startTesseraOnS3(s3, bucket, shared);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await Promise.all([redis?.stop(), s3?.stop()]);
  });

  it('keeps every record in the bucket: done stays done, a failed upload stays failed, a waiting final stays a final and completes', async () => {
    const done = randomData(3000);
    const doneUpload = await create(a.endpoint, { length: done.length, metadata: { sha256: sha256Hex(done) } });
    expect((await patch(doneUpload.url, 0, done)).status).toBe(204);
    const bad = await create(a.endpoint, { length: 10, metadata: { sha256: '5'.repeat(64) } });
    expect((await patch(bad.url, 0, randomData(10))).status).toBe(460);
    const first = await partial(a.endpoint, Buffer.from('hello '));
    const second = await create(a.endpoint, { length: 5, headers: { 'Upload-Concat': 'partial' } });
    const fin = await final(a.endpoint, [first, second.url]);
    expect(fin.res.status).toBe(201);

    const client = new Redis(redis.url);
    await client.flushall();
    client.disconnect();

    for (const server of [a, b]) {
      const look = await head(on(server, doneUpload.url));
      expect(look.headers.get('tessera-upload-status')).toBe('done');
      expect(look.headers.get('tessera-sha256')).toBe(sha256Hex(done));
      expect((await head(on(server, bad.url))).status).toBe(460);
      expect((await head(on(server, fin.url))).headers.get('tessera-upload-status')).toBe('pending');
      // Still a final: it takes no bytes from a client.
      expect((await patch(on(server, fin.url), 0, Buffer.alloc(11, 65))).status).toBe(403);
    }
    expect((await patch(on(b, second.url), 0, Buffer.from('world'))).status).toBe(204);
    expect((await head(on(a, fin.url))).headers.get('tessera-upload-status')).toBe('done');
    expect(await (await fetch(on(a, fin.url))).text()).toBe('hello world');
  });
});
