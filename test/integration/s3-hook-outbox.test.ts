import type { S3 } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OutboxRecord } from '../../src/hooks/http/hook-outbox.js';
import { S3HookOutbox } from '../../src/hooks/http/s3-hook-outbox.js';
import { S3_BACKENDS, allKeys, newBucket, s3ClientFor, startS3Backend, type S3ServerProcess } from '../support/s3.js';

const PREFIX = '.tessera-hooks/outbox/';

/** A record of `eventId`, as the hook delivery writes one. */
function recordOf(eventId: string, createdAt: number, attempts = 0): OutboxRecord {
  const [id = '', event = 'post-finish'] = eventId.split(':');
  return {
    eventId,
    body: {
      Type: event as OutboxRecord['body']['Type'],
      Event: {
        Upload: { ID: id, Size: 3, SizeIsDeferred: false, Offset: 3, MetaData: {}, IsPartial: false, IsFinal: false, PartialUploads: null, Storage: null },
        HTTPRequest: { Method: 'PATCH', URI: `/files/${id}`, RemoteAddr: '127.0.0.1:1234', Header: {} },
      },
      Tessera: { EventId: eventId },
    },
    createdAt,
    attempts,
    nextAttemptAt: createdAt,
    ...(attempts > 0 ? { lastError: 'HTTP 503' } : {}),
  };
}

/**
 * The outbox of HTTP hook notifications in the upload bucket (S3 deployments share no disk):
 * records are whole or absent, survive the instance, and keep apart from the uploads' objects.
 */
describe.each(S3_BACKENDS)('S3 (%s): the hook outbox in the bucket', (backend) => {
  let s3: S3ServerProcess;
  let client: S3;
  beforeAll(async () => {
    s3 = await startS3Backend(backend);
    client = s3ClientFor(s3);
  }, 180_000);
  afterAll(() => s3.stop());

  /** An outbox on a fresh bucket of its own. */
  async function fresh(options: { pageSize?: number; prefix?: string } = {}) {
    const bucket = await newBucket(client, 'outbox');
    return { bucket, outbox: new S3HookOutbox({ client, bucket, ...options }) };
  }

  it('put then get round-trips the record, as one JSON object under the prefix', async () => {
    const { bucket, outbox } = await fresh();
    const record = recordOf('abc:post-finish', 1_000, 2);
    await outbox.put(record);
    expect(await outbox.get('abc:post-finish')).toEqual(record);
    // Read afresh by another instance (nothing kept in memory).
    expect(await new S3HookOutbox({ client, bucket }).get('abc:post-finish')).toEqual(record);
    const key = `${PREFIX}${encodeURIComponent('abc:post-finish')}.json`;
    expect(await allKeys(client, bucket)).toEqual([key]);
    const head = await client.headObject({ Bucket: bucket, Key: key });
    expect(head.ContentType).toBe('application/json');
  });

  it('a put of the same event id replaces the record whole', async () => {
    const { bucket, outbox } = await fresh();
    await outbox.put(recordOf('abc:post-finish', 1_000, 0));
    const retried = { ...recordOf('abc:post-finish', 1_000, 3), nextAttemptAt: 9_000 };
    await outbox.put(retried);
    expect(await outbox.get('abc:post-finish')).toEqual(retried);
    expect(await outbox.all()).toEqual([retried]);
    expect(await allKeys(client, bucket)).toHaveLength(1);
  });

  it('all() gives every record oldest first, across several list pages', async () => {
    const { outbox } = await fresh({ pageSize: 2 });
    // Key order (a, b, c, …) differs from age order.
    const ages: Record<string, number> = { a: 5_000, b: 1_000, c: 4_000, d: 2_000, e: 3_000, f: 6_000, g: 500 };
    await Promise.all(Object.entries(ages).map(([id, createdAt]) => outbox.put(recordOf(`${id}:post-create`, createdAt))));
    const listsBefore = (await s3.stats()).ListObjectsV2?.requests ?? 0;
    const all = await outbox.all();
    expect(all.map((r) => r.eventId)).toEqual(['g', 'b', 'd', 'e', 'c', 'a', 'f'].map((id) => `${id}:post-create`));
    expect(all[0]).toEqual(recordOf('g:post-create', 500));
    // 7 keys, 2 a page: 4 pages.
    expect(((await s3.stats()).ListObjectsV2?.requests ?? 0) - listsBefore).toBe(4);
  });

  it('a record unchanged since the last look is not read again; a replaced one is, and a removed one is gone', async () => {
    const { outbox } = await fresh();
    await Promise.all(['a', 'b', 'c'].map((id, i) => outbox.put(recordOf(`${id}:post-finish`, 1000 + i))));
    const reads = async () => (await s3.stats()).GetObject?.requests ?? 0;
    const first = await reads();
    expect(await outbox.all()).toHaveLength(3);
    expect((await reads()) - first).toBe(3);
    const second = await reads();
    expect((await outbox.all()).map((r) => r.attempts)).toEqual([0, 0, 0]);
    expect((await reads()) - second).toBe(0);
    await outbox.put(recordOf('b:post-finish', 1001, 2));
    await outbox.remove('c:post-finish');
    const third = await reads();
    expect((await outbox.all()).map((r) => [r.eventId, r.attempts])).toEqual([['a:post-finish', 0], ['b:post-finish', 2]]);
    expect((await reads()) - third).toBe(1);
  });

  it('all() of an empty outbox is empty', async () => {
    const { outbox } = await fresh();
    expect(await outbox.all()).toEqual([]);
    expect(await outbox.get('abc:post-finish')).toBeUndefined();
  });

  it('remove makes get undefined; removing a missing record resolves', async () => {
    const { bucket, outbox } = await fresh();
    await outbox.put(recordOf('abc:post-finish', 1_000));
    await outbox.put(recordOf('abc:post-terminate', 2_000));
    await outbox.remove('abc:post-finish');
    expect(await outbox.get('abc:post-finish')).toBeUndefined();
    expect((await outbox.all()).map((r) => r.eventId)).toEqual(['abc:post-terminate']);
    await expect(outbox.remove('abc:post-finish')).resolves.toBeUndefined();
    await expect(outbox.remove('never:post-create')).resolves.toBeUndefined();
    await outbox.remove('abc:post-terminate');
    expect(await allKeys(client, bucket)).toEqual([]);
  });

  it('event ids with `:` `/` `%` and others round-trip, each its own key directly under the prefix', async () => {
    const { bucket, outbox } = await fresh();
    const ids = ['a:b:c', 'x/y:post-finish', 'x%2Fy:post-finish', '../../up:post-finish', '100%:pre-create', 'ü ?#&+=:post-receive', '.hidden:post-create'];
    for (const [i, id] of ids.entries()) await outbox.put(recordOf(id, i));
    for (const [i, id] of ids.entries()) expect(await outbox.get(id)).toEqual(recordOf(id, i));
    expect((await outbox.all()).map((r) => r.eventId)).toEqual(ids);
    const keys = await allKeys(client, bucket);
    expect(keys).toHaveLength(ids.length);
    // No id adds a folder or leaves the prefix.
    for (const key of keys) expect(key.startsWith(PREFIX) && !key.slice(PREFIX.length).includes('/')).toBe(true);
    await outbox.remove('x/y:post-finish');
    expect(await outbox.get('x/y:post-finish')).toBeUndefined();
    expect(await outbox.get('x%2Fy:post-finish')).toEqual(recordOf('x%2Fy:post-finish', 2));
  });

  it('an object under the prefix that is not a record is skipped by all() and get()', async () => {
    const { bucket, outbox } = await fresh();
    await outbox.put(recordOf('good:post-finish', 1_000));
    // ContentLength: the SDK cannot tell an empty string's length and warns.
    const put = (name: string, Body: string) => client.putObject({ Bucket: bucket, Key: `${PREFIX}${name}`, Body, ContentLength: Buffer.byteLength(Body) });
    await put(`${encodeURIComponent('torn:post-finish')}.json`, '{"eventId":"torn:post-fin');
    await put(`${encodeURIComponent('empty:post-finish')}.json`, '');
    await put(`${encodeURIComponent('null:post-finish')}.json`, 'null');
    await put(`${encodeURIComponent('number:post-finish')}.json`, '42');
    // Not `.json`: not a record even when it holds one.
    await put('stray.tmp', JSON.stringify(recordOf('stray:post-finish', 0)));
    for (const id of ['torn:post-finish', 'empty:post-finish', 'null:post-finish', 'number:post-finish']) expect(await outbox.get(id)).toBeUndefined();
    expect(await outbox.all()).toEqual([recordOf('good:post-finish', 1_000)]);
  });

  it("keys outside the prefix (an upload's objects, lifecycle records, a sibling prefix) are never listed", async () => {
    const { bucket, outbox } = await fresh({ pageSize: 2 });
    const decoy = (id: string) => JSON.stringify(recordOf(`${id}:post-finish`, 0));
    // Keys that sort before and after the prefix, and ones sharing its beginning.
    for (const key of ['abc', 'abc.info', 'abc.part', '.tessera-state/upload-abc.json', '.tessera-hooks/outbox.json', '.tessera-hooks/outbox-old/x.json', '.tessera-hooks/x.json', 'zzz.json']) {
      await client.putObject({ Bucket: bucket, Key: key, Body: decoy(key) });
    }
    // An unfinished upload's multipart upload too.
    const { UploadId } = await client.createMultipartUpload({ Bucket: bucket, Key: 'def' });
    await outbox.put(recordOf('abc:post-finish', 1_000));
    expect(await outbox.all()).toEqual([recordOf('abc:post-finish', 1_000)]);
    await client.abortMultipartUpload({ Bucket: bucket, Key: 'def', UploadId });
  });

  it('outboxes with different prefixes in one bucket do not see each other', async () => {
    const { bucket, outbox } = await fresh();
    const other = new S3HookOutbox({ client, bucket, prefix: '.tessera-hooks/other/' });
    await outbox.put(recordOf('abc:post-finish', 1_000));
    await other.put(recordOf('def:post-finish', 2_000));
    expect((await outbox.all()).map((r) => r.eventId)).toEqual(['abc:post-finish']);
    expect((await other.all()).map((r) => r.eventId)).toEqual(['def:post-finish']);
    expect(await outbox.get('def:post-finish')).toBeUndefined();
  });

  it('a record removed between the list and its read (delivered by another instance) is skipped', async () => {
    const { bucket } = await fresh();
    const writer = new S3HookOutbox({ client, bucket });
    await writer.put(recordOf('gone:post-finish', 1_000));
    await writer.put(recordOf('kept:post-finish', 2_000));
    // A client whose every listing is followed, before all() reads, by another instance's remove.
    const racing = Object.assign(Object.create(client) as S3, {
      listObjectsV2: async (input: Parameters<S3['listObjectsV2']>[0]) => {
        const page = await client.listObjectsV2(input);
        await writer.remove('gone:post-finish');
        return page;
      },
    });
    const records = await new S3HookOutbox({ client: racing, bucket }).all();
    expect(records.map((r) => r.eventId)).toEqual(['kept:post-finish']);
  });

  it('errors other than a missing key propagate', async () => {
    const outbox = new S3HookOutbox({ client, bucket: 'no-such-bucket-of-the-outbox' });
    await expect(outbox.get('abc:post-finish')).rejects.toMatchObject({ name: 'NoSuchBucket' });
    await expect(outbox.all()).rejects.toMatchObject({ name: 'NoSuchBucket' });
    await expect(outbox.put(recordOf('abc:post-finish', 1_000))).rejects.toMatchObject({ name: 'NoSuchBucket' });
  });
});
