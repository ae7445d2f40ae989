import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { S3 } from '@aws-sdk/client-s3';
import { Upload } from '@tus/utils';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3StoreAdapter } from '../../src/stores/s3/s3-store-adapter.js';
import type { TesseraS3Store } from '../../src/stores/s3/tessera-s3-store.js';
import { digestOf } from '../support/bytes.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { newBucket, s3ClientFor, s3ConfigFor, startS3Server, startTesseraOnS3, type S3ServerProcess } from '../support/s3.js';
import type { RunningTessera } from '../support/tessera.js';
import { create, patch } from '../support/tus-http.js';

const MiB = 1024 * 1024;
const log = pino({ level: 'silent' });
type Counts = Record<string, number>;

/**
 * A PATCH reads its upload once, under its lock (TesseraS3Store.readUpload), and hands what it
 * saw to the write that follows, which starts from it instead of reading the info, the parts
 * and the `.part` object again. Only that write: anything else reads S3 afresh.
 */
describe('S3 reads of a PATCH: once, handed to its write', () => {
  let s3: S3ServerProcess;
  let client: S3;

  beforeAll(async () => {
    s3 = await startS3Server();
    client = s3ClientFor(s3);
  });
  afterAll(() => s3.stop());

  const requests = async (during: () => Promise<unknown>): Promise<Counts> => {
    const before = await s3.stats();
    await during();
    const after = await s3.stats();
    const counts: Counts = {};
    for (const [op, stats] of Object.entries(after)) {
      const n = stats.requests - (before[op]?.requests ?? 0);
      if (n > 0) counts[op] = n;
    }
    return counts;
  };

  /** Three PATCHes of 5 MiB + 1 byte: each leaves a `.part` tail, which the next one must carry. */
  const middlePatches = async (server: RunningTessera) => {
    const data = randomBytes(3 * (5 * MiB + 1));
    const step = 5 * MiB + 1;
    const { url } = await create(server.endpoint, { length: data.length });
    expect((await patch(url, 0, data.subarray(0, step))).status).toBe(204);
    const second = await requests(async () => expect((await patch(url, step, data.subarray(step, 2 * step))).status).toBe(204));
    expect((await patch(url, 2 * step, data.subarray(2 * step))).status).toBe(204);
    expect(digestOf(Buffer.from(await (await fetch(url)).arrayBuffer()))).toBe(digestOf(data));
    return second;
  };

  it('one instance: a PATCH lists the parts once and fetches the .part tail only because it exists', async () => {
    const server = await startTesseraOnS3(s3, await newBucket(client, 'reads'));
    try {
      // getUpload: ListParts + HeadObject(.part) + HeadObject(.unverified mark); write: GetObject(.part),
      // the mark (PutObject) before its part streams, the part, the new tail (PutObject), which
      // replaces the old one (no delete: the old tail stays until its bytes are stored again), and
      // the mark's removal once the part was checked against its ETag (DeleteObjects).
      expect(await middlePatches(server)).toEqual({ ListParts: 1, HeadObject: 2, GetObject: 1, UploadPart: 1, PutObject: 2, DeleteObjects: 1 });
      const { url } = await create(server.endpoint, { length: 10 * MiB });
      // No tail: nothing to fetch.
      expect(await requests(async () => expect((await patch(url, 0, randomBytes(5 * MiB))).status).toBe(204))).toEqual({
        ListParts: 1,
        HeadObject: 2,
        PutObject: 1,
        UploadPart: 1,
        DeleteObjects: 1,
      });
    } finally {
      await server.stop();
    }
  });

  it('shared mode (no info cache): the upload info is fetched once per PATCH', async () => {
    let redis: RedisProcess | undefined;
    let server: RunningTessera | undefined;
    try {
      redis = await startRedis();
      server = await startTesseraOnS3(s3, await newBucket(client, 'reads-shared'), { redis: { url: redis.url, lockUrls: [redis.url], prefix: 'reads:' } });
      // GetObject: the .info once, the .part tail, and the upload's lifecycle record (in the
      // bucket; remembered in memory only when embedded).
      expect(await middlePatches(server)).toEqual({ ListParts: 1, HeadObject: 2, GetObject: 3, UploadPart: 1, PutObject: 2, DeleteObjects: 1 });
    } finally {
      await server?.stop();
      await redis?.stop();
    }
  });

  it('a PATCH that declares a deferred length reads again before writing (what it read said "deferred"), and completes the upload', async () => {
    const server = await startTesseraOnS3(s3, await newBucket(client, 'reads-declare'));
    try {
      const data = randomBytes(5 * MiB + 7);
      const { url } = await create(server.endpoint, { defer: true });
      expect((await patch(url, 0, data.subarray(0, 3 * MiB))).status).toBe(204);
      const last = await patch(url, 3 * MiB, data.subarray(3 * MiB), { 'Upload-Length': String(data.length) });
      expect(last.status).toBe(204);
      expect(digestOf(Buffer.from(await (await fetch(url)).arrayBuffer()))).toBe(digestOf(data));
    } finally {
      await server.stop();
    }
  });

  it('a write handed what readUpload saw skips those reads; a write without it reads afresh', async () => {
    const bucket = await newBucket(client, 'reads-replay');
    const store = new S3StoreAdapter({ s3: s3ConfigFor(s3, bucket), expiryMs: 60_000, cacheInfo: true, log }).datastore;
    const id = 'replayed';
    await store.create(new Upload({ id, size: 4 * MiB, offset: 0 }));
    const [first, second] = [randomBytes(MiB), randomBytes(MiB)];
    const counts = await requests(async () => {
      const { seen } = await store.readUpload(id);
      await store.writeDeclared(Readable.from([first]), id, 0, MiB, seen);
      // Nothing handed to this one: it must find the tail the first write left.
      await store.writeDeclared(Readable.from([second]), id, MiB, MiB);
    });
    // readUpload: GetObject (.info, cached from then on), ListParts, HeadObject (tail, mark). First
    // write: PutObject (its tail; nothing streams). Second write: ListParts, HeadObject (is the tail
    // live? a mark?), GetObject (the tail), PutObject (the longer tail, replacing it).
    expect(counts).toEqual({ ListParts: 2, HeadObject: 4, GetObject: 2, PutObject: 2 });
    expect(await tailOf(store, bucket, id)).toEqual(digestOf(Buffer.concat([first, second])));
  });
});

async function tailOf(store: TesseraS3Store, bucket: string, id: string): Promise<string> {
  const { Body } = await store.s3.getObject({ Bucket: bucket, Key: `${id}.part` });
  return digestOf(Buffer.from((await Body?.transformToByteArray()) ?? []));
}
