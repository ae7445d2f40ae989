import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { S3 } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../support/bytes.js';
import { final, partial, sha256Hex } from '../support/concat.js';
import { memoryLog } from '../support/memory-log.js';
import {
  bucketContents,
  bucketRecords,
  idOf,
  newBucket,
  s3ClientFor,
  s3ConfigFor,
  S3_BACKENDS,
  startS3Backend,
  startTesseraOnS3,
  type S3ServerProcess,
} from '../support/s3.js';
import type { RunningTessera } from '../support/tessera.js';
import { create, del, head, offsetOf, patch } from '../support/tus-http.js';

const MiB = 1024 * 1024;
const checksum = (data: Buffer) => `sha256 ${createHash('sha256').update(data).digest('base64')}`;

/** Everything S3 holds for one unfinished upload, down to part ETags and `.part` bytes. */
async function s3State(client: S3, bucket: string, id: string) {
  const info = await client.headObject({ Bucket: bucket, Key: `${id}.info` });
  const UploadId = info.Metadata?.['upload-id'];
  const parts = (await client.listParts({ Bucket: bucket, Key: id, UploadId })).Parts ?? [];
  const tail = await client.getObject({ Bucket: bucket, Key: `${id}.part` }).then(
    async (res) => ({ etag: res.ETag, digest: digestOf(Buffer.from(await (res.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray())) }),
    () => undefined,
  );
  return { UploadId, parts: parts.map((p) => [p.PartNumber, p.ETag, p.Size]), tail, contents: await bucketContents(client, bucket) };
}

/** Sends `sent` bytes of a body declared `declared` long, then drops the connection. */
function interruptedPatch(url: string, offset: number, body: Buffer, declared: number, headers: Record<string, string>): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request(url, {
      method: 'PATCH',
      headers: {
        'Tus-Resumable': '1.0.0',
        'Upload-Offset': String(offset),
        'Content-Type': 'application/offset+octet-stream',
        'Content-Length': String(declared),
        ...headers,
      },
    });
    req.on('error', () => resolve());
    req.on('response', () => resolve());
    req.write(body, () => setTimeout(() => req.destroy(), 100));
  });
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe.each(S3_BACKENDS)('Tessera on S3 (%s)', (backend) => {
  let s3: S3ServerProcess;
  let client: S3;
  let server: RunningTessera | undefined;

  beforeAll(async () => {
    s3 = await startS3Backend(backend);
    client = s3ClientFor(s3);
  }, 180_000);
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });
  afterAll(() => s3.stop());

  describe('part uploads', () => {
    it('send their bytes at once unless S3_EXPECT_CONTINUE asks S3 for 100 Continue first', async () => {
      const bucket = await newBucket(client, 'expect');
      // Three parts of 5 MiB: each big enough for the SDK to ask for 100 Continue when allowed to.
      const data = randomBytes(15 * MiB);
      const parts = async () => {
        const before = (await s3.stats()).UploadPart;
        const { url } = await create(server!.endpoint, { length: data.length });
        expect((await patch(url, 0, data)).status).toBe(204);
        const after = (await s3.stats()).UploadPart;
        return { requests: (after?.requests ?? 0) - (before?.requests ?? 0), expectContinue: (after?.expectContinue ?? 0) - (before?.expectContinue ?? 0) };
      };
      server = await startTesseraOnS3(s3, bucket);
      expect(await parts()).toEqual({ requests: 3, expectContinue: 0 });
      await server.stop();
      server = await startTesseraOnS3(s3, bucket, { s3: { ...s3ConfigFor(s3, bucket), expectContinue: true } });
      expect(await parts()).toEqual({ requests: 3, expectContinue: 3 });
    });
  });

  describe('checksum', () => {
    it('a mismatching or interrupted checksummed PATCH leaves parts, .part and offset exactly as before', async () => {
      const log = memoryLog('info');
      const bucket = await newBucket(client, 'checksum');
      server = await startTesseraOnS3(s3, bucket, {}, { logger: log.logger });
      const data = randomBytes(20 * MiB);
      const { url } = await create(server.endpoint, { length: data.length });
      const id = idOf(url);
      // 7 MiB: one 5 MiB part and a 2 MiB `.part` tail.
      expect((await patch(url, 0, data.subarray(0, 7 * MiB))).status).toBe(204);
      const before = await s3State(client, bucket, id);
      expect(before.parts).toHaveLength(1);
      expect(before.tail).toBeDefined();

      // 9 MiB that would become a full part (with the tail) and a new tail.
      const next = data.subarray(7 * MiB, 16 * MiB);
      const bad = await patch(url, 7 * MiB, next, { 'Upload-Checksum': checksum(randomBytes(8)) });
      expect(bad.status).toBe(460);
      expect(await offsetOf(url)).toBe(7 * MiB);
      expect(await s3State(client, bucket, id)).toEqual(before);

      const discards = () => log.lines.filter((l) => l.msg === 'checksummed chunk discarded').length;
      await interruptedPatch(url, 7 * MiB, next.subarray(0, 6 * MiB), next.length, { 'Upload-Checksum': checksum(next) });
      await until(() => discards() === 2, 'the interrupted PATCH to be discarded');
      expect(await offsetOf(url)).toBe(7 * MiB);
      expect(await s3State(client, bucket, id)).toEqual(before);

      const good = await patch(url, 7 * MiB, next, { 'Upload-Checksum': checksum(next) });
      expect(good.status).toBe(204);
      expect(good.headers.get('upload-offset')).toBe(String(16 * MiB));
      const rest = data.subarray(16 * MiB);
      expect((await patch(url, 16 * MiB, rest, { 'Upload-Checksum': checksum(rest) })).status).toBe(204);
      expect(digestOf(Buffer.from(await (await fetch(url)).arrayBuffer()))).toBe(digestOf(data));
      expect(await bucketContents(client, bucket)).toEqual({ objects: [id, `${id}.info`], uploads: [] });
    });

    it('a creation-with-upload whose checksum fails leaves nothing in the bucket; one that matches is kept', async () => {
      const bucket = await newBucket(client, 'creation');
      server = await startTesseraOnS3(s3, bucket);
      const body = randomBytes(MiB);
      const { res } = await create(server.endpoint, { length: 2 * MiB, body, headers: { 'Upload-Checksum': checksum(randomBytes(4)) } });
      expect(res.status).toBe(460);
      expect(await bucketContents(client, bucket)).toEqual({ objects: [], uploads: [] });

      const good = await create(server.endpoint, { length: 2 * MiB, body, headers: { 'Upload-Checksum': checksum(body) } });
      expect(good.res.status).toBe(201);
      expect(good.res.headers.get('upload-offset')).toBe(String(MiB));
      const id = idOf(good.url);
      expect(await bucketContents(client, bucket)).toEqual({ objects: [`${id}.info`, `${id}.part`], uploads: [id] });
    });
  });

  describe('plain PATCH', () => {
    it('an interrupted PATCH without a checksum keeps what it received, at least the whole parts (the client resumes from there)', async () => {
      const bucket = await newBucket(client, 'resume');
      server = await startTesseraOnS3(s3, bucket);
      const data = randomBytes(20 * MiB);
      const { url } = await create(server.endpoint, { length: data.length });
      await interruptedPatch(url, 0, data.subarray(0, 12 * MiB), data.length, {});
      // 5 MiB parts (the tests' S3_PART_SIZE): two of them were complete when the client left.
      await until(async () => (await offsetOf(url)) >= 10 * MiB, 'the received parts to be stored');
      const offset = await offsetOf(url);
      // Never more than arrived (the rest may have been kept as the `.part` tail).
      expect(offset).toBeLessThanOrEqual(12 * MiB);
      expect((await patch(url, offset, data.subarray(offset))).status).toBe(204);
      expect(digestOf(Buffer.from(await (await fetch(url)).arrayBuffer()))).toBe(digestOf(data));
    });
  });

  describe('concatenation assembled inside S3', () => {
    const stats = () => s3.stats();
    const delta = (before: Awaited<ReturnType<typeof stats>>, after: Awaited<ReturnType<typeof stats>>, op: string) => ({
      requests: (after[op]?.requests ?? 0) - (before[op]?.requests ?? 0),
      bytesIn: (after[op]?.bytesIn ?? 0) - (before[op]?.bytesIn ?? 0),
      bytesOut: (after[op]?.bytesOut ?? 0) - (before[op]?.bytesOut ?? 0),
      bytesCopied: (after[op]?.bytesCopied ?? 0) - (before[op]?.bytesCopied ?? 0),
    });

    it('copies partials of 5 MiB or more with UploadPartCopy: no partial byte is uploaded again', async () => {
      const bucket = await newBucket(client, 'concat');
      server = await startTesseraOnS3(s3, bucket);
      const pieces = [randomBytes(6 * MiB), randomBytes(5 * MiB), randomBytes(7 * MiB + 1), randomBytes(MiB)];
      const whole = Buffer.concat(pieces);
      const urls = [];
      for (const piece of pieces) urls.push(await partial(server.endpoint, piece));

      const before = await stats();
      const { res, url } = await final(server.endpoint, urls, { sha256: sha256Hex(whole) });
      expect(res.status).toBe(201);
      expect(res.headers.get('tessera-sha256')).toBe(sha256Hex(whole));
      const after = await stats();
      expect(delta(before, after, 'UploadPartCopy')).toEqual({ requests: 4, bytesIn: 0, bytesOut: 0, bytesCopied: whole.length });
      expect(delta(before, after, 'UploadPart').bytesIn).toBe(0);
      // The price of the SHA-256: the final object is read back once (plus the small .info documents).
      const read = delta(before, after, 'GetObject').bytesOut;
      expect(read).toBeGreaterThanOrEqual(whole.length);
      expect(read).toBeLessThan(whole.length + 64 * 1024);

      const finalId = idOf(url);
      const info = await head(url);
      expect(info.headers.get('upload-offset')).toBe(String(whole.length));
      expect(digestOf(Buffer.from(await (await fetch(url)).arrayBuffer()))).toBe(digestOf(whole));
      for (const u of urls) expect((await del(u)).status).toBe(204);
      expect(await bucketContents(client, bucket)).toEqual({ objects: [finalId, `${finalId}.info`], uploads: [] });
    });

    it('streams through the server only what the 5 MiB minimum forces (small partials before the last)', async () => {
      const bucket = await newBucket(client, 'concat-small');
      server = await startTesseraOnS3(s3, bucket);
      const pieces = [randomBytes(3 * MiB), randomBytes(3 * MiB), randomBytes(6 * MiB), randomBytes(MiB)];
      const whole = Buffer.concat(pieces);
      const urls = [];
      for (const piece of pieces) urls.push(await partial(server.endpoint, piece));
      const before = await stats();
      const { res, url } = await final(server.endpoint, urls);
      expect(res.status).toBe(201);
      const after = await stats();
      // The two 3 MiB partials are joined (6 MiB streamed); the 6 MiB and the last 1 MiB are copied.
      expect(delta(before, after, 'UploadPart').bytesIn).toBe(6 * MiB);
      expect(delta(before, after, 'UploadPartCopy')).toMatchObject({ requests: 2, bytesCopied: 7 * MiB });
      expect(res.headers.get('tessera-sha256')).toBe(sha256Hex(whole));
      expect(digestOf(Buffer.from(await (await fetch(url)).arrayBuffer()))).toBe(digestOf(whole));
    });

    it('a final whose SHA-256 does not match fails (460) and keeps no object', async () => {
      const bucket = await newBucket(client, 'concat-bad');
      server = await startTesseraOnS3(s3, bucket);
      const urls = [await partial(server.endpoint, randomBytes(5 * MiB)), await partial(server.endpoint, randomBytes(100))];
      const { res, url } = await final(server.endpoint, urls, { sha256: sha256Hex(randomBytes(8)) });
      expect(res.status).toBe(460);
      expect((await head(url)).status).toBe(460);
      const finalId = idOf(url);
      const { objects } = await bucketContents(client, bucket);
      expect(objects).not.toContain(finalId);
      expect(objects).toContain(`${finalId}.info`);
    });
  });

  describe('cleanup', () => {
    it('DELETE removes the upload, its multipart upload and its .part object', async () => {
      const bucket = await newBucket(client, 'terminate');
      server = await startTesseraOnS3(s3, bucket);
      const { url } = await create(server.endpoint, { length: 20 * MiB });
      expect((await patch(url, 0, randomBytes(7 * MiB))).status).toBe(204);
      const id = idOf(url);
      expect(await bucketContents(client, bucket)).toEqual({ objects: [`${id}.info`, `${id}.part`], uploads: [id] });
      // Its lifecycle record lives beside it in the bucket...
      expect(await bucketRecords(client, bucket)).toEqual([`.tessera-state/upload-${id}.json`]);
      expect((await del(url)).status).toBe(204);
      // ...and goes with it.
      expect(await bucketContents(client, bucket)).toEqual({ objects: [], uploads: [] });
      expect(await bucketRecords(client, bucket)).toEqual([]);
    });

    it('expiry removes the partials of a done final (completed objects, which S3 does not list as uploads), with their records and links', async () => {
      const bucket = await newBucket(client, 'expiry-partials');
      // Everything but a finished file is expired a millisecond after it is made.
      server = await startTesseraOnS3(s3, bucket, { uploadExpiryMs: 1 });
      const parts = [randomBytes(1000), randomBytes(1000)];
      // Creation-with-upload: a PATCH to an upload older than 1 ms would be a 410.
      const urls = await Promise.all(
        parts.map(async (body) => (await create(server!.endpoint, { length: 1000, body, headers: { 'Upload-Concat': 'partial' } })).url),
      );
      const fin = await final(server.endpoint, urls);
      expect(fin.res.status).toBe(201);
      expect(await server.tessera.sweeper.sweep()).toBe(2);
      for (const url of urls) expect((await head(url)).status).toBe(404);
      expect((await head(fin.url)).headers.get('tessera-upload-status')).toBe('done');
      expect(await bucketRecords(client, bucket)).toEqual([`.tessera-state/upload-${idOf(fin.url)}.json`]);
    });

    it('a final POST racing the DELETE of its partial leaves no link behind', async () => {
      const bucket = await newBucket(client, 'link-race');
      server = await startTesseraOnS3(s3, bucket);
      for (let round = 0; round < 10; round++) {
        const p = await partial(server.endpoint, randomBytes(100));
        await Promise.all([final(server.endpoint, [p]), del(p)]);
        const links = (await bucketRecords(client, bucket)).filter((key) => key.startsWith(`.tessera-state/links/${idOf(p)}/`));
        expect({ round, links }).toEqual({ round, links: [] });
      }
    });

    it('expiry removes unfinished uploads with every helper object, aborts orphaned multipart uploads, keeps finished ones', async () => {
      const bucket = await newBucket(client, 'expiry');
      server = await startTesseraOnS3(s3, bucket, { uploadExpiryMs: 1_000 });
      const done = await create(server.endpoint, { length: MiB });
      expect((await patch(done.url, 0, randomBytes(MiB))).status).toBe(204);
      const unfinished = await create(server.endpoint, { length: 20 * MiB });
      expect((await patch(unfinished.url, 0, randomBytes(7 * MiB))).status).toBe(204);
      // A multipart upload no upload info points at (a crash between its creation and the info).
      await client.createMultipartUpload({ Bucket: bucket, Key: 'orphan' });
      // Expiry is by creation time, so the uploads have to get old.
      await new Promise((r) => setTimeout(r, 1_100));

      expect(await server.tessera.sweeper.sweep()).toBe(1);
      const doneId = idOf(done.url);
      expect(await bucketContents(client, bucket)).toEqual({ objects: [doneId, `${doneId}.info`], uploads: [] });
      expect(await bucketRecords(client, bucket)).toEqual([`.tessera-state/upload-${doneId}.json`]);
      expect((await head(unfinished.url)).status).toBe(404);
      expect((await head(done.url)).status).toBe(200);
    });
  });

  describe('/readyz', () => {
    it('is ready while the bucket takes writes (leaving no probe object) and not ready without the bucket', async () => {
      const bucket = await newBucket(client, 'ready');
      server = await startTesseraOnS3(s3, bucket);
      expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(200);
      expect(await bucketContents(client, bucket)).toEqual({ objects: [], uploads: [] });
      await client.deleteBucket({ Bucket: bucket });
      const res = await fetch(`${server.baseUrl}/readyz`);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { reason: string }).reason).toMatch(/^S3 bucket \S+ cannot take writes: NoSuchBucket.*\(404\)$/);
    });
  });
});
