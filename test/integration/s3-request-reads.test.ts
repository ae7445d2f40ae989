import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { S3 } from '@aws-sdk/client-s3';
import { Upload } from '@tus/utils';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3StoreAdapter } from '../../src/stores/s3/s3-store-adapter.js';
import type { TesseraS3Store } from '../../src/stores/s3/tessera-s3-store.js';
import { requestContext } from '../../src/tus/request-context.js';
import { digestOf } from '../support/bytes.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { newBucket, s3ClientFor, s3ConfigFor, startS3Server, startTesseraOnS3, type S3ServerProcess } from '../support/s3.js';
import type { RunningTessera } from '../support/tessera.js';
import { create, patch } from '../support/tus-http.js';

const MiB = 1024 * 1024;
const log = pino({ level: 'silent' });
type Counts = Record<string, number>;

/** Runs `fn` as one request would: inside its own request context. */
const inRequest = <T>(fn: () => Promise<T>): Promise<T> =>
  requestContext.run({ request: new Request('http://127.0.0.1/files'), nodeRequest: undefined, log }, fn);

/**
 * A PATCH's write reuses what the getUpload before it (same request, under the upload's lock)
 * read from S3, instead of reading the info, the parts and the `.part` object again; any
 * change sent to S3 in between makes it read afresh.
 */
describe('S3 reads shared by getUpload and the write after it', () => {
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
      // getUpload: ListParts + HeadObject(.part); write: GetObject(.part), then its part and new tail.
      expect(await middlePatches(server)).toEqual({ ListParts: 1, HeadObject: 1, GetObject: 1, DeleteObject: 1, UploadPart: 1, PutObject: 1 });
      const { url } = await create(server.endpoint, { length: 10 * MiB });
      // No tail: nothing to fetch.
      expect(await requests(async () => expect((await patch(url, 0, randomBytes(5 * MiB))).status).toBe(204))).toEqual({ ListParts: 1, HeadObject: 1, UploadPart: 1 });
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
      expect(await middlePatches(server)).toEqual({ ListParts: 1, HeadObject: 1, GetObject: 3, DeleteObject: 1, UploadPart: 1, PutObject: 1 });
    } finally {
      await server?.stop();
      await redis?.stop();
    }
  });

  it('a change sent to S3 between getUpload and the write makes the write read afresh', async () => {
    const bucket = await newBucket(client, 'reads-change');
    const store = new S3StoreAdapter({ s3: s3ConfigFor(s3, bucket), expiryMs: 60_000, cacheInfo: true, log }).datastore;
    const id = 'changed-between';
    await store.create(new Upload({ id, size: 4 * MiB, offset: 0 }));
    const tail = randomBytes(MiB);
    const body = randomBytes(MiB);
    const offset = await inRequest(async () => {
      expect((await store.getUpload(id)).offset).toBe(0);
      // Written behind the store's back, in the same request: the recorded "no .part" is stale now.
      await store.s3.putObject({ Bucket: bucket, Key: `${id}.part`, Body: tail });
      return store.write(Readable.from([body]), id, MiB);
    });
    expect(offset).toBe(2 * MiB);
    expect(await tailOf(store, bucket, id)).toEqual(digestOf(Buffer.concat([tail, body])));
  });

  it('without a change the write skips the reads getUpload made, and a second write in the request reads afresh', async () => {
    const bucket = await newBucket(client, 'reads-replay');
    const store = new S3StoreAdapter({ s3: s3ConfigFor(s3, bucket), expiryMs: 60_000, cacheInfo: true, log }).datastore;
    const id = 'replayed';
    await store.create(new Upload({ id, size: 4 * MiB, offset: 0 }));
    const [first, second] = [randomBytes(MiB), randomBytes(MiB)];
    const counts = await requests(() =>
      inRequest(async () => {
        await store.getUpload(id);
        await store.write(Readable.from([first]), id, 0);
        // Nothing recorded for this one: it must find the tail the first write left.
        await store.write(Readable.from([second]), id, MiB);
      }),
    );
    // getUpload: GetObject (.info, cached from then on), ListParts, HeadObject. First write: PutObject (its tail).
    // Second write: ListParts, GetObject (the tail), DeleteObject, PutObject (the longer tail).
    expect(counts).toEqual({ ListParts: 2, HeadObject: 1, GetObject: 2, DeleteObject: 1, PutObject: 2 });
    expect(await tailOf(store, bucket, id)).toEqual(digestOf(Buffer.concat([first, second])));
  });
});

async function tailOf(store: TesseraS3Store, bucket: string, id: string): Promise<string> {
  const { Body } = await store.s3.getObject({ Bucket: bucket, Key: `${id}.part` });
  return digestOf(Buffer.from((await Body?.transformToByteArray()) ?? []));
}
