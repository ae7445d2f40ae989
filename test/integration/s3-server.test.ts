import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { S3, type S3ServiceException } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../support/bytes.js';
import { newBucket, s3ClientFor, startS3Server, type S3ServerProcess } from '../support/s3.js';

const MiB = 1024 * 1024;
const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');

/** Resolves to the S3 error a call failed with (name = S3 error code). */
async function s3Error(call: Promise<unknown>): Promise<{ code: string; status: number | undefined; message: string }> {
  try {
    await call;
  } catch (error) {
    const e = error as S3ServiceException;
    return { code: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error('the call succeeded');
}

type Middleware = Parameters<S3['middlewareStack']['addRelativeTo']>[0];
/** Middleware that edits the outgoing HTTP request (before or after it is signed). */
function editRequest(edit: (request: { body?: unknown; headers: Record<string, string> }) => void): Middleware {
  const middleware = (next: (args: { request: { body?: unknown; headers: Record<string, string> } }) => Promise<unknown>) =>
    async (args: { request: { body?: unknown; headers: Record<string, string> } }) => {
      edit(args.request);
      return next(args);
    };
  // The SDK types middleware per step generically; this one only touches `args.request`.
  return middleware as unknown as Middleware;
}

const bytesOf = async (body: unknown) => Buffer.from(await (body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());

/**
 * The S3-compatible test server (tools/s3-server) on its own, through the real AWS SDK:
 * each operation Tessera and @tus/s3-store use, with S3's shapes, status codes and rules.
 */
describe('S3 test server', () => {
  let server: S3ServerProcess;
  let client: S3;

  beforeAll(async () => {
    server = await startS3Server();
    client = s3ClientFor(server);
  });
  afterAll(() => server.stop());

  describe('authentication (Signature Version 4)', () => {
    const withCredentials = (credentials: { accessKeyId: string; secretAccessKey: string }, region = server.region) =>
      new S3({ endpoint: server.endpoint, region, credentials, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });

    it('refuses a wrong secret, an unknown key and a wrong region', async () => {
      const bucket = await newBucket(client, 'auth');
      expect(await s3Error(withCredentials({ ...server.credentials, secretAccessKey: 'wrong' }).headObject({ Bucket: bucket, Key: 'k' }))).toMatchObject({ status: 403 });
      expect(await s3Error(withCredentials({ ...server.credentials, secretAccessKey: 'wrong' }).getObject({ Bucket: bucket, Key: 'k' }))).toMatchObject({
        code: 'SignatureDoesNotMatch',
        status: 403,
      });
      expect(await s3Error(withCredentials({ accessKeyId: 'nobody', secretAccessKey: 'x' }).getObject({ Bucket: bucket, Key: 'k' }))).toMatchObject({
        code: 'InvalidAccessKeyId',
        status: 403,
      });
      expect(await s3Error(withCredentials(server.credentials, 'eu-west-1').getObject({ Bucket: bucket, Key: 'k' }))).toMatchObject({
        code: 'AuthorizationHeaderMalformed',
        status: 400,
      });
    });

    it('checks a signed payload hash against the body', async () => {
      const bucket = await newBucket(client, 'payload');
      const tampering = s3ClientFor(server);
      tampering.middlewareStack.addRelativeTo(
        editRequest((request) => {
          request.body = 'HELLO';
        }),
        { relation: 'after', toMiddleware: 'httpSigningMiddleware' },
      );
      expect(await s3Error(tampering.putObject({ Bucket: bucket, Key: 'k', Body: 'hello' }))).toMatchObject({
        code: 'XAmzContentSHA256Mismatch',
        status: 400,
      });
      expect(await s3Error(client.headObject({ Bucket: bucket, Key: 'k' }))).toMatchObject({ status: 404 });
    });

    it('refuses aws-chunked bodies (what an SDK without WHEN_REQUIRED sends) instead of storing the framing', async () => {
      const bucket = await newBucket(client, 'chunked');
      const defaults = new S3({ endpoint: server.endpoint, region: server.region, credentials: server.credentials, forcePathStyle: true });
      const body = randomBytes(1000);
      expect(await s3Error(defaults.putObject({ Bucket: bucket, Key: 'k', Body: Readable.from([body]), ContentLength: body.length }))).toMatchObject({
        code: 'NotImplemented',
        status: 501,
      });
      await client.putObject({ Bucket: bucket, Key: 'k', Body: Readable.from([body]), ContentLength: body.length });
      expect(digestOf(await bytesOf((await client.getObject({ Bucket: bucket, Key: 'k' })).Body))).toBe(digestOf(body));
    });
  });

  describe('buckets', () => {
    it('HeadBucket answers 200 with the region, 404 for a missing bucket; a second CreateBucket is 409', async () => {
      const bucket = await newBucket(client, 'head');
      const head = await client.headBucket({ Bucket: bucket });
      expect(head.$metadata.httpStatusCode).toBe(200);
      expect(head.BucketRegion).toBe(server.region);
      expect(await s3Error(client.headBucket({ Bucket: 'no-such-bucket-here' }))).toMatchObject({ status: 404 });
      expect(await s3Error(client.createBucket({ Bucket: bucket }))).toMatchObject({ code: 'BucketAlreadyOwnedByYou', status: 409 });
      expect(await s3Error(client.getObject({ Bucket: 'no-such-bucket-here', Key: 'k' }))).toMatchObject({ code: 'NoSuchBucket', status: 404 });
    });

    it('ListObjectsV2 pages in UTF-8 key order, with prefix, delimiter and start-after', async () => {
      const bucket = await newBucket(client, 'list');
      const keys = ['b', 'a/2', 'a/1', 'c.info', 'c', 'a/sub/x', 'é'];
      for (const Key of keys) await client.putObject({ Bucket: bucket, Key, Body: Key });
      const seen: string[] = [];
      let token: string | undefined;
      for (let page = 0; page < 10; page += 1) {
        const res = await client.listObjectsV2({ Bucket: bucket, MaxKeys: 3, ContinuationToken: token });
        expect(res.KeyCount).toBe(res.Contents?.length);
        seen.push(...(res.Contents ?? []).map((o) => o.Key ?? ''));
        if (!res.IsTruncated) break;
        token = res.NextContinuationToken;
      }
      expect(seen).toEqual(['a/1', 'a/2', 'a/sub/x', 'b', 'c', 'c.info', 'é']);
      const first = (await client.listObjectsV2({ Bucket: bucket, Prefix: 'c' })).Contents?.[0];
      expect(first).toMatchObject({ Key: 'c', Size: 1, ETag: `"${md5(Buffer.from('c'))}"` });
      const delimited = await client.listObjectsV2({ Bucket: bucket, Delimiter: '/' });
      expect(delimited.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/']);
      expect(delimited.Contents?.map((o) => o.Key)).toEqual(['b', 'c', 'c.info', 'é']);
      expect((await client.listObjectsV2({ Bucket: bucket, StartAfter: 'c' })).Contents?.map((o) => o.Key)).toEqual(['c.info', 'é']);
    });
  });

  describe('objects', () => {
    it('PutObject/GetObject/HeadObject keep bytes, type and metadata; ETag is the MD5', async () => {
      const bucket = await newBucket(client, 'objects');
      const body = randomBytes(3 * MiB + 5);
      const put = await client.putObject({ Bucket: bucket, Key: 'dir/ä b+c', Body: body, ContentType: 'image/png', Metadata: { owner: 'me' } });
      expect(put.ETag).toBe(`"${md5(body)}"`);
      const got = await client.getObject({ Bucket: bucket, Key: 'dir/ä b+c' });
      expect(got.ContentType).toBe('image/png');
      expect(got.Metadata).toEqual({ owner: 'me' });
      expect(got.ContentLength).toBe(body.length);
      expect(digestOf(await bytesOf(got.Body))).toBe(digestOf(body));
      const head = await client.headObject({ Bucket: bucket, Key: 'dir/ä b+c' });
      expect(head.ContentLength).toBe(body.length);
      expect(head.ETag).toBe(put.ETag);
      expect(await s3Error(client.getObject({ Bucket: bucket, Key: 'missing' }))).toMatchObject({ code: 'NoSuchKey', status: 404 });
      expect(await s3Error(client.headObject({ Bucket: bucket, Key: 'missing' }))).toMatchObject({ code: 'NotFound', status: 404 });
    });

    it('answers Expect: 100-continue and stores the body; /_test/stats counts such requests per operation', async () => {
      const bucket = await newBucket(client, 'expect');
      const body = randomBytes(3 * MiB);
      // The SDK's own default: 100-continue for bodies of 2 MiB or more.
      const sdkDefault = new S3({ endpoint: server.endpoint, region: server.region, credentials: server.credentials, forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
      const before = (await server.stats()).PutObject?.expectContinue ?? 0;
      const asked = await sdkDefault.putObject({ Bucket: bucket, Key: 'asked', Body: body });
      expect((await server.stats()).PutObject?.expectContinue).toBe(before + 1);
      expect(asked.ETag).toBe(`"${md5(body)}"`);
      await client.putObject({ Bucket: bucket, Key: 'not-asked', Body: body });
      expect((await server.stats()).PutObject?.expectContinue).toBe(before + 1);
      expect(digestOf(await bytesOf((await client.getObject({ Bucket: bucket, Key: 'asked' })).Body))).toBe(digestOf(body));
      sdkDefault.destroy();
    });

    it('GetObject ranges: first-last, open-ended, suffix (206 with Content-Range), unsatisfiable 416', async () => {
      const bucket = await newBucket(client, 'ranges');
      const body = randomBytes(1000);
      await client.putObject({ Bucket: bucket, Key: 'k', Body: body });
      const range = async (Range: string) => {
        const res = await client.getObject({ Bucket: bucket, Key: 'k', Range });
        return { status: res.$metadata.httpStatusCode, contentRange: res.ContentRange, bytes: await bytesOf(res.Body) };
      };
      expect(await range('bytes=10-19')).toEqual({ status: 206, contentRange: 'bytes 10-19/1000', bytes: body.subarray(10, 20) });
      expect(await range('bytes=990-')).toEqual({ status: 206, contentRange: 'bytes 990-999/1000', bytes: body.subarray(990) });
      expect(await range('bytes=-5')).toEqual({ status: 206, contentRange: 'bytes 995-999/1000', bytes: body.subarray(995) });
      expect(await range('bytes=900-5000')).toMatchObject({ contentRange: 'bytes 900-999/1000' });
      expect(await s3Error(client.getObject({ Bucket: bucket, Key: 'k', Range: 'bytes=1000-' }))).toMatchObject({ code: 'InvalidRange', status: 416 });
    });

    it('GetObject conditions: If-Match fails with 412, If-None-Match matches with 304', async () => {
      const bucket = await newBucket(client, 'conditions');
      const { ETag } = await client.putObject({ Bucket: bucket, Key: 'k', Body: 'x' });
      expect(await s3Error(client.getObject({ Bucket: bucket, Key: 'k', IfMatch: '"0000"' }))).toMatchObject({ code: 'PreconditionFailed', status: 412 });
      expect((await client.getObject({ Bucket: bucket, Key: 'k', IfMatch: ETag })).$metadata.httpStatusCode).toBe(200);
      expect(await s3Error(client.getObject({ Bucket: bucket, Key: 'k', IfNoneMatch: ETag }))).toMatchObject({ status: 304 });
    });

    it('DeleteObject is 204 whether or not the key exists; DeleteObjects reports each key', async () => {
      const bucket = await newBucket(client, 'delete');
      await client.putObject({ Bucket: bucket, Key: 'a', Body: 'a' });
      await client.putObject({ Bucket: bucket, Key: 'b', Body: 'b' });
      expect((await client.deleteObject({ Bucket: bucket, Key: 'a' })).$metadata.httpStatusCode).toBe(204);
      expect((await client.deleteObject({ Bucket: bucket, Key: 'a' })).$metadata.httpStatusCode).toBe(204);
      const many = await client.deleteObjects({ Bucket: bucket, Delete: { Objects: [{ Key: 'b' }, { Key: 'never' }] } });
      expect(many.Deleted?.map((d) => d.Key)).toEqual(['b', 'never']);
      expect((await client.listObjectsV2({ Bucket: bucket })).KeyCount).toBe(0);
    });

    it('DeleteObjects without Content-MD5 or a checksum header is refused', async () => {
      const bucket = await newBucket(client, 'delete-md5');
      const stripping = s3ClientFor(server);
      stripping.middlewareStack.addRelativeTo(
        editRequest((request) => {
          for (const name of Object.keys(request.headers)) {
            if (/^(content-md5|x-amz-checksum-|x-amz-sdk-checksum)/i.test(name)) delete request.headers[name];
          }
        }),
        { relation: 'before', toMiddleware: 'httpSigningMiddleware' },
      );
      expect(await s3Error(stripping.deleteObjects({ Bucket: bucket, Delete: { Objects: [{ Key: 'x' }] } }))).toMatchObject({
        code: 'InvalidRequest',
        status: 400,
      });
    });
  });

  describe('multipart uploads', () => {
    const startUpload = async (bucket: string, Key = 'big') => {
      const { UploadId } = await client.createMultipartUpload({ Bucket: bucket, Key, ContentType: 'text/plain', Metadata: { m: '1' } });
      return UploadId as string;
    };

    it('UploadPart answers the part MD5 as ETag; part numbers outside 1..10000 are InvalidArgument', async () => {
      const bucket = await newBucket(client, 'upload-part');
      const UploadId = await startUpload(bucket);
      const part = randomBytes(1000);
      const res = await client.uploadPart({ Bucket: bucket, Key: 'big', UploadId, PartNumber: 1, Body: part });
      expect(res.ETag).toBe(`"${md5(part)}"`);
      for (const PartNumber of [0, 10_001]) {
        expect(await s3Error(client.uploadPart({ Bucket: bucket, Key: 'big', UploadId, PartNumber, Body: part }))).toMatchObject({
          code: 'InvalidArgument',
          status: 400,
        });
      }
      expect(await s3Error(client.uploadPart({ Bucket: bucket, Key: 'other', UploadId, PartNumber: 1, Body: part }))).toMatchObject({
        code: 'NoSuchUpload',
        status: 404,
      });
    });

    it('ListParts lists parts in order with size and ETag, pages with MaxParts/PartNumberMarker, and shows a replaced part once', async () => {
      const bucket = await newBucket(client, 'list-parts');
      const UploadId = await startUpload(bucket);
      const bodies = new Map<number, Buffer>();
      for (const n of [3, 1, 2, 5]) {
        bodies.set(n, randomBytes(100 + n));
        await client.uploadPart({ Bucket: bucket, Key: 'big', UploadId, PartNumber: n, Body: bodies.get(n) });
      }
      bodies.set(2, randomBytes(7));
      await client.uploadPart({ Bucket: bucket, Key: 'big', UploadId, PartNumber: 2, Body: bodies.get(2) });

      const all = await client.listParts({ Bucket: bucket, Key: 'big', UploadId });
      expect(all.IsTruncated).toBe(false);
      expect(all.Parts?.map((p) => [p.PartNumber, p.Size, p.ETag])).toEqual(
        [1, 2, 3, 5].map((n) => [n, bodies.get(n)?.length, `"${md5(bodies.get(n) as Buffer)}"`]),
      );
      const page1 = await client.listParts({ Bucket: bucket, Key: 'big', UploadId, MaxParts: 2 });
      expect(page1.IsTruncated).toBe(true);
      expect(page1.Parts?.map((p) => p.PartNumber)).toEqual([1, 2]);
      expect(page1.NextPartNumberMarker).toBe('2');
      const page2 = await client.listParts({ Bucket: bucket, Key: 'big', UploadId, MaxParts: 2, PartNumberMarker: page1.NextPartNumberMarker });
      expect(page2.IsTruncated).toBe(false);
      expect(page2.Parts?.map((p) => p.PartNumber)).toEqual([3, 5]);
      expect(await s3Error(client.listParts({ Bucket: bucket, Key: 'big', UploadId: 'nope' }))).toMatchObject({ code: 'NoSuchUpload', status: 404 });
    });

    it('AbortMultipartUpload is 204, drops the parts; the upload is then NoSuchUpload everywhere', async () => {
      const bucket = await newBucket(client, 'abort');
      const UploadId = await startUpload(bucket);
      const { ETag } = await client.uploadPart({ Bucket: bucket, Key: 'big', UploadId, PartNumber: 1, Body: randomBytes(10) });
      const before = await server.stats();
      expect((await client.abortMultipartUpload({ Bucket: bucket, Key: 'big', UploadId })).$metadata.httpStatusCode).toBe(204);
      expect((await server.stats()).AbortMultipartUpload?.requests).toBe((before.AbortMultipartUpload?.requests ?? 0) + 1);
      const gone = { code: 'NoSuchUpload', status: 404 };
      expect(await s3Error(client.listParts({ Bucket: bucket, Key: 'big', UploadId }))).toMatchObject(gone);
      expect(await s3Error(client.uploadPart({ Bucket: bucket, Key: 'big', UploadId, PartNumber: 2, Body: 'x' }))).toMatchObject(gone);
      expect(
        await s3Error(client.completeMultipartUpload({ Bucket: bucket, Key: 'big', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag }] } })),
      ).toMatchObject(gone);
      expect(await s3Error(client.abortMultipartUpload({ Bucket: bucket, Key: 'big', UploadId }))).toMatchObject(gone);
      expect((await client.listMultipartUploads({ Bucket: bucket })).Uploads ?? []).toEqual([]);
      expect((await client.listObjectsV2({ Bucket: bucket })).KeyCount).toBe(0);
    });

    it('ListMultipartUploads lists unfinished uploads by key then initiation, with prefix and key/upload-id markers', async () => {
      const bucket = await newBucket(client, 'list-uploads');
      const b1 = await startUpload(bucket, 'b');
      const a1 = await startUpload(bucket, 'a');
      const b2 = await startUpload(bucket, 'b');
      const c1 = await startUpload(bucket, 'c');
      const done = await startUpload(bucket, 'a-done');
      await client.abortMultipartUpload({ Bucket: bucket, Key: 'a-done', UploadId: done });

      const all = await client.listMultipartUploads({ Bucket: bucket });
      expect(all.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([['a', a1], ['b', b1], ['b', b2], ['c', c1]]);
      expect(all.Uploads?.[0]?.Initiated).toBeInstanceOf(Date);
      expect(all.IsTruncated).toBe(false);

      const page1 = await client.listMultipartUploads({ Bucket: bucket, MaxUploads: 2 });
      expect(page1.IsTruncated).toBe(true);
      expect(page1.Uploads?.map((u) => u.UploadId)).toEqual([a1, b1]);
      expect([page1.NextKeyMarker, page1.NextUploadIdMarker]).toEqual(['b', b1]);
      const page2 = await client.listMultipartUploads({ Bucket: bucket, MaxUploads: 2, KeyMarker: page1.NextKeyMarker, UploadIdMarker: page1.NextUploadIdMarker });
      expect(page2.Uploads?.map((u) => u.UploadId)).toEqual([b2, c1]);
      expect(page2.IsTruncated).toBe(false);
      // A key marker alone skips every upload of that key.
      expect((await client.listMultipartUploads({ Bucket: bucket, KeyMarker: 'b' })).Uploads?.map((u) => u.UploadId)).toEqual([c1]);
      expect((await client.listMultipartUploads({ Bucket: bucket, Prefix: 'b' })).Uploads?.map((u) => u.UploadId)).toEqual([b1, b2]);
    });

    it('UploadPartCopy copies a whole object or an x-amz-copy-source-range, with S3 errors for bad ranges and preconditions', async () => {
      const bucket = await newBucket(client, 'part-copy');
      const source = randomBytes(6 * MiB + 3);
      const { ETag: sourceEtag } = await client.putObject({ Bucket: bucket, Key: 'src/one', Body: source });
      const UploadId = await startUpload(bucket, 'joined');
      const copy = (PartNumber: number, extra: Record<string, string> = {}) =>
        client.uploadPartCopy({ Bucket: bucket, Key: 'joined', UploadId, PartNumber, CopySource: `${bucket}/src%2Fone`, ...extra });

      const whole = await copy(1);
      expect(whole.CopyPartResult?.ETag).toBe(`"${md5(source)}"`);
      expect(whole.CopyPartResult?.LastModified).toBeInstanceOf(Date);
      const ranged = await copy(2, { CopySourceRange: 'bytes=100-199', CopySourceIfMatch: sourceEtag as string });
      expect(ranged.CopyPartResult?.ETag).toBe(`"${md5(source.subarray(100, 200))}"`);

      const malformed = await s3Error(copy(3, { CopySourceRange: 'bytes=100-' }));
      expect(malformed).toMatchObject({ code: 'InvalidArgument', status: 400 });
      expect(malformed.message).toMatch(/must be of the form bytes=first-last/);
      const outside = await s3Error(copy(3, { CopySourceRange: `bytes=0-${source.length}` }));
      expect(outside).toMatchObject({ code: 'InvalidArgument', status: 400 });
      expect(outside.message).toBe(`Range specified is not valid for source object of size: ${source.length}`);
      expect(await s3Error(copy(3, { CopySourceIfMatch: '"not-it"' }))).toMatchObject({ code: 'PreconditionFailed', status: 412 });
      expect(
        await s3Error(client.uploadPartCopy({ Bucket: bucket, Key: 'joined', UploadId, PartNumber: 3, CopySource: `${bucket}/missing` })),
      ).toMatchObject({ code: 'NoSuchKey', status: 404 });

      const parts = (await client.listParts({ Bucket: bucket, Key: 'joined', UploadId })).Parts ?? [];
      expect(parts.map((p) => [p.PartNumber, p.Size])).toEqual([[1, source.length], [2, 100]]);
      // UploadPartCopy moves no bytes over the connection.
      const stats = await server.stats();
      expect(stats.UploadPartCopy?.bytesIn).toBe(0);
      expect(stats.UploadPartCopy?.bytesCopied).toBe(source.length + 100);
      await client.completeMultipartUpload({
        Bucket: bucket,
        Key: 'joined',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: whole.CopyPartResult?.ETag }, { PartNumber: 2, ETag: ranged.CopyPartResult?.ETag }] },
      });
      const joined = await bytesOf((await client.getObject({ Bucket: bucket, Key: 'joined' })).Body);
      expect(digestOf(joined)).toBe(digestOf(Buffer.concat([source, source.subarray(100, 200)])));
    });

    it('CompleteMultipartUpload enforces the 5 MiB minimum, ETags and part order, and answers the multipart ETag', async () => {
      const bucket = await newBucket(client, 'complete');
      const UploadId = await startUpload(bucket);
      const big = randomBytes(5 * MiB);
      const small = randomBytes(10);
      const e1 = (await client.uploadPart({ Bucket: bucket, Key: 'big', UploadId, PartNumber: 1, Body: small })).ETag;
      const e2 = (await client.uploadPart({ Bucket: bucket, Key: 'big', UploadId, PartNumber: 2, Body: big })).ETag;
      const e3 = (await client.uploadPart({ Bucket: bucket, Key: 'big', UploadId, PartNumber: 3, Body: small })).ETag;
      const complete = (Parts: { PartNumber: number; ETag: string | undefined }[]) =>
        client.completeMultipartUpload({ Bucket: bucket, Key: 'big', UploadId, MultipartUpload: { Parts } });

      expect(await s3Error(complete([{ PartNumber: 1, ETag: e1 }, { PartNumber: 2, ETag: e2 }]))).toMatchObject({ code: 'EntityTooSmall', status: 400 });
      expect(await s3Error(complete([{ PartNumber: 2, ETag: e1 }]))).toMatchObject({ code: 'InvalidPart', status: 400 });
      expect(await s3Error(complete([{ PartNumber: 4, ETag: e1 }]))).toMatchObject({ code: 'InvalidPart', status: 400 });
      expect(await s3Error(complete([{ PartNumber: 3, ETag: e3 }, { PartNumber: 2, ETag: e2 }]))).toMatchObject({ code: 'InvalidPartOrder', status: 400 });

      // Parts 2 and 3 only (a part not named is dropped); the last part may be small.
      const done = await complete([{ PartNumber: 2, ETag: e2 }, { PartNumber: 3, ETag: e3 }]);
      const md5s = Buffer.concat([Buffer.from(md5(big), 'hex'), Buffer.from(md5(small), 'hex')]);
      expect(done.ETag).toBe(`"${md5(md5s)}-2"`);
      expect(done.Key).toBe('big');
      const head = await client.headObject({ Bucket: bucket, Key: 'big' });
      expect(head.ContentType).toBe('text/plain');
      expect(head.Metadata).toEqual({ m: '1' });
      expect(digestOf(await bytesOf((await client.getObject({ Bucket: bucket, Key: 'big' })).Body))).toBe(digestOf(Buffer.concat([big, small])));
      expect(await s3Error(client.listParts({ Bucket: bucket, Key: 'big', UploadId }))).toMatchObject({ code: 'NoSuchUpload', status: 404 });
      expect((await client.listMultipartUploads({ Bucket: bucket })).Uploads ?? []).toEqual([]);
    });
  });
});
