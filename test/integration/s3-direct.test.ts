import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directClient, md5Of } from '../support/direct-s3.js';
import { bucketContents, newBucket, S3_BACKENDS, s3ClientFor, startS3Backend, startTesseraOnS3, type S3ServerProcess } from '../support/s3.js';
import type { RunningTessera } from '../support/tessera.js';
import { head, patch } from '../support/tus-http.js';
import { startRedis } from '../support/redis.js';
import { hookReceiver, testHooks } from '../support/hook-receiver.js';

const MiB = 1024 * 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * Issue #18: direct-to-S3 uploads (S3_DIRECT). The client asks Tessera (the calls @uppy/aws-s3
 * makes on a Companion endpoint) and PUTs the parts straight into the bucket; Tessera completes,
 * verifies the declared sha256 by reading the object back from S3, and the upload is then an
 * ordinary one (HEAD and GET on /files). Against a real S3 (Ceph RGW) and the test server.
 */
describe.each(S3_BACKENDS)('S3 (%s): direct uploads with presigned parts', (backend) => {
  let s3: S3ServerProcess;
  let bucket: string;
  let server: RunningTessera;
  let direct: ReturnType<typeof directClient>;
  const client = () => s3ClientFor(s3);

  beforeAll(async () => {
    s3 = await startS3Backend(backend);
    bucket = await newBucket(client(), 'direct');
    server = await startTesseraOnS3(s3, bucket, { s3Direct: { partUrlTtlMs: 60_000 } });
    direct = directClient(server.baseUrl);
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    await s3?.stop();
  });

  it('an upload in two parts, one of 5 MiB and a short last one, becomes an ordinary verified upload: HEAD done with its SHA-256, GET the same bytes', async () => {
    const data = randomBytes(5 * MiB + 1000);
    const { key, completed } = await direct.upload('two-parts.bin', [data.subarray(0, 5 * MiB), data.subarray(5 * MiB)], { sha256: sha256(data) });
    expect(completed.status).toBe(200);
    const answer = (await completed.json()) as { location: string; key: string };
    expect(answer).toEqual({ location: `${server.endpoint}/${key}`, key });
    const status = await head(answer.location);
    expect(status.status).toBe(200);
    expect(status.headers.get('tessera-upload-status')).toBe('done');
    expect(status.headers.get('tessera-sha256')).toBe(sha256(data));
    expect(status.headers.get('upload-offset')).toBe(String(data.length));
    const got = Buffer.from(await (await fetch(answer.location)).arrayBuffer());
    expect(got.equals(data)).toBe(true);
    expect((await bucketContents(client(), bucket)).uploads).not.toContain(key);
  });

  it('a declared sha256 the object does not have fails the upload visibly (460), and the object is deleted', async () => {
    const data = randomBytes(1000);
    const { key, completed } = await direct.upload('wrong.bin', [data], { sha256: sha256(Buffer.from('something else')) });
    expect(completed.status).toBe(460);
    expect(await completed.text()).toMatch(/^Whole-file SHA-256 mismatch: declared [0-9a-f]{64}, received [0-9a-f]{64}; the upload failed and its data was discarded\n$/);
    const status = await head(`${server.endpoint}/${key}`);
    expect(status.status).toBe(460);
    expect((await fetch(`${server.endpoint}/${key}`)).status).toBe(404);
    expect((await bucketContents(client(), bucket)).objects).not.toContain(key);
  });

  it('a part signed with its MD5 is refused by S3 when its bytes were damaged on the way, or sent without the MD5; the intact part is taken', async () => {
    const part = randomBytes(64 * 1024);
    const { key, uploadId } = await direct.ok<{ key: string; uploadId: string }>(await direct.create('md5.bin'));
    const { url } = await direct.ok<{ url: string }>(await direct.sign(key, uploadId, 1, md5Of(part)));
    const damaged = Buffer.from(part);
    damaged[100] = (damaged[100] ?? 0) ^ 0xff;
    const refused = await fetch(url, { method: 'PUT', body: damaged, headers: { 'Content-MD5': md5Of(part) } });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('BadDigest');
    expect((await fetch(url, { method: 'PUT', body: part })).status).toBe(403);
    expect(await direct.ok(await direct.list(key, uploadId))).toEqual([]);
    const taken = await fetch(url, { method: 'PUT', body: part, headers: { 'Content-MD5': md5Of(part) } });
    expect(taken.status).toBe(200);
    const listed = await direct.ok<{ PartNumber: number; ETag: string; Size: number }[]>(await direct.list(key, uploadId));
    expect(listed).toEqual([{ PartNumber: 1, ETag: taken.headers.get('etag'), Size: part.length }]);
    expect((await direct.complete(key, uploadId, [{ PartNumber: 1, ETag: taken.headers.get('etag') ?? '' }])).status).toBe(200);
    expect(Buffer.from(await (await fetch(`${server.endpoint}/${key}`)).arrayBuffer()).equals(part)).toBe(true);
  });

  it("a part's URL is good for that part of that upload only: another part number, another upload or another key is refused by S3", async () => {
    const a = await direct.ok<{ key: string; uploadId: string }>(await direct.create('a.bin'));
    const b = await direct.ok<{ key: string; uploadId: string }>(await direct.create('b.bin'));
    const { url } = await direct.ok<{ url: string }>(await direct.sign(a.key, a.uploadId, 1));
    const tampered = (change: (u: URL) => void) => {
      const u = new URL(url);
      change(u);
      return u.toString();
    };
    for (const other of [
      tampered((u) => u.searchParams.set('partNumber', '2')),
      tampered((u) => u.searchParams.set('uploadId', b.uploadId)),
      tampered((u) => (u.pathname = u.pathname.replace(a.key, b.key))),
    ]) {
      expect((await fetch(other, { method: 'PUT', body: Buffer.from('x') })).status, other).toBe(403);
    }
    // The server refuses to sign for an upload id that is not the key's, or a part number S3 has not.
    expect((await direct.sign(a.key, b.uploadId, 1)).status).toBe(404);
    for (const bad of ['0', '10001', '1.5', 'x']) expect((await direct.sign(a.key, a.uploadId, bad)).status, bad).toBe(400);
    expect((await direct.sign(a.key, a.uploadId, 1, 'not-an-md5')).status).toBe(400);
  });

  it('a completion that does not name exactly the parts S3 holds (a gap, a wrong ETag, a part missing) is refused and changes nothing; the right one then completes', async () => {
    const data = randomBytes(5 * MiB + 10);
    const { key, uploadId } = await direct.ok<{ key: string; uploadId: string }>(await direct.create('parts.bin'));
    const parts: { PartNumber: number; ETag: string }[] = [];
    for (const [index, chunk] of [data.subarray(0, 5 * MiB), data.subarray(5 * MiB)].entries()) {
      const { url } = await direct.ok<{ url: string }>(await direct.sign(key, uploadId, index + 1));
      const put = await fetch(url, { method: 'PUT', body: chunk });
      parts.push({ PartNumber: index + 1, ETag: put.headers.get('etag') ?? '' });
    }
    const [first, second] = parts as [{ PartNumber: number; ETag: string }, { PartNumber: number; ETag: string }];
    for (const wrong of [[first], [first, { ...second, PartNumber: 3 }], [first, { ...second, ETag: '"0123"' }], [second, first], []]) {
      const res = await direct.complete(key, uploadId, wrong);
      expect(res.status, JSON.stringify(wrong)).toBe(400);
    }
    expect((await direct.complete(key, uploadId, [{ PartNumber: 'x', ETag: 1 } as never])).status).toBe(400);
    expect((await head(`${server.endpoint}/${key}`)).headers.get('tessera-upload-status')).toBe('receiving');
    expect((await direct.complete(key, uploadId, parts)).status).toBe(200);
    expect(Buffer.from(await (await fetch(`${server.endpoint}/${key}`)).arrayBuffer()).equals(data)).toBe(true);
    // A completion retried after its answer was lost is answered the same.
    expect((await direct.complete(key, uploadId, parts)).status).toBe(200);
  });

  it('every part but the last must be 5 MiB or more: refused at completion with a clear line', async () => {
    const { key, uploadId } = await direct.ok<{ key: string; uploadId: string }>(await direct.create('small.bin'));
    const parts = [];
    for (const n of [1, 2]) {
      const { url } = await direct.ok<{ url: string }>(await direct.sign(key, uploadId, n));
      const put = await fetch(url, { method: 'PUT', body: randomBytes(1000) });
      parts.push({ PartNumber: n, ETag: put.headers.get('etag') ?? '' });
    }
    const res = await direct.complete(key, uploadId, parts);
    expect(res.status).toBe(400);
    expect(await res.text()).toBe(`Part 1 has 1000 bytes; every part but the last needs at least ${5 * MiB}\n`);
  });

  it('a direct upload takes no PATCH; HEAD shows its progress; an abort leaves nothing in the bucket', async () => {
    const { key, uploadId } = await direct.ok<{ key: string; uploadId: string }>(await direct.create('aborted.bin', { project: 'q4' }));
    const url = `${server.endpoint}/${key}`;
    const refused = await patch(url, 0, Buffer.from('hello'), {});
    expect(refused.status).toBe(403);
    const { url: partUrl } = await direct.ok<{ url: string }>(await direct.sign(key, uploadId, 1));
    expect((await fetch(partUrl, { method: 'PUT', body: randomBytes(5 * MiB) })).status).toBe(200);
    const status = await head(url);
    expect(status.headers.get('upload-offset')).toBe(String(5 * MiB));
    expect(status.headers.get('upload-defer-length')).toBe('1');
    expect((await direct.abort(key, uploadId)).status).toBe(200);
    expect((await head(url)).status).toBe(404);
    const contents = await bucketContents(client(), bucket);
    expect(contents.objects.filter((k) => k.startsWith(key))).toEqual([]);
    expect(contents.uploads).not.toContain(key);
    expect((await direct.sign(key, uploadId, 1)).status).toBe(404);
  });

  it('bad requests get one clear line: no key, no JSON, metadata keys with spaces, a malformed sha256, and small-file POST policies', async () => {
    expect((await fetch(`${server.baseUrl}/s3/multipart/x/1`)).status).toBe(400);
    const notJson = await fetch(`${server.baseUrl}/s3/multipart`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
    expect([notJson.status, await notJson.text()]).toEqual([400, 'The body is not valid JSON\n']);
    expect((await direct.create('x', { 'has space': 'v' })).status).toBe(400);
    expect((await direct.create('x', { sha256: 'not-a-digest' })).status).toBe(400);
    const params = await fetch(`${server.baseUrl}/s3/params?filename=x&type=y`);
    expect([params.status, await params.text()]).toEqual([400, 'Direct uploads are multipart only: set shouldUseMultipart: true on @uppy/aws-s3\n']);
  });
});

describe('S3 direct uploads: owners, limits, expiry and configuration', () => {
  let s3: S3ServerProcess;
  beforeAll(async () => {
    s3 = await startS3Backend('s3-test-server');
  });
  afterAll(() => s3?.stop());

  it('each upload is its owner\'s: without credentials 401, another caller gets 404 for every call, as on /files', async () => {
    const server = await startTesseraOnS3(
      s3,
      await newBucket(s3ClientFor(s3), 'direct-owner'),
      { s3Direct: { partUrlTtlMs: 60_000 } },
      { authenticate: async (req) => (req.headers.get('x-user') ? { owner: req.headers.get('x-user') as string } : undefined) },
    );
    try {
      expect((await directClient(server.baseUrl).create('x')).status).toBe(401);
      const alice = directClient(server.baseUrl, { 'X-User': 'alice' });
      const bob = directClient(server.baseUrl, { 'X-User': 'bob' });
      const { key, uploadId } = await alice.ok<{ key: string; uploadId: string }>(await alice.create('mine.bin'));
      expect((await bob.sign(key, uploadId, 1)).status).toBe(404);
      expect((await bob.list(key, uploadId)).status).toBe(404);
      expect((await bob.complete(key, uploadId, [])).status).toBe(404);
      expect((await bob.abort(key, uploadId)).status).toBe(404);
      expect((await alice.sign(key, uploadId, 1)).status).toBe(200);
      expect((await head(`${server.endpoint}/${key}`, { 'X-User': 'bob' })).status).toBe(404);
    } finally {
      await server.stop();
    }
  });

  it('two instances completing one upload at the same moment (shared mode): both answer it, it is verified and announced once', async () => {
    const redis = await startRedis();
    const bucket = await newBucket(s3ClientFor(s3), 'direct-shared');
    const finished: string[] = [];
    const shared = { s3Direct: { partUrlTtlMs: 60_000 }, redis: { url: redis.url, lockUrls: [redis.url], prefix: 'direct-shared:' } };
    const hooks = { hooks: { onUploadFinish: async (_req: Request | undefined, upload: { id: string }) => (finished.push(upload.id), {}) } };
    const [a, b] = [await startTesseraOnS3(s3, bucket, shared, hooks), await startTesseraOnS3(s3, bucket, shared, hooks)] as [RunningTessera, RunningTessera];
    try {
      const data = randomBytes(5 * MiB + 99);
      const viaA = directClient(a.baseUrl);
      const { key, uploadId } = await viaA.ok<{ key: string; uploadId: string }>(await viaA.create('raced.bin', { sha256: sha256(data) }));
      const parts = [];
      for (const [index, chunk] of [data.subarray(0, 5 * MiB), data.subarray(5 * MiB)].entries()) {
        const { url } = await viaA.ok<{ url: string }>(await viaA.sign(key, uploadId, index + 1));
        parts.push({ PartNumber: index + 1, ETag: (await fetch(url, { method: 'PUT', body: chunk })).headers.get('etag') ?? '' });
      }
      const answers = await Promise.all([viaA.complete(key, uploadId, parts), directClient(b.baseUrl).complete(key, uploadId, parts)]);
      expect(answers.map((r) => r.status)).toEqual([200, 200]);
      expect(finished).toEqual([key]);
      expect((await head(`${b.endpoint}/${key}`)).headers.get('tessera-sha256')).toBe(sha256(data));
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await redis.stop();
    }
  });

  it('hooks and metrics see a direct upload as any other: pre-create names it, post-create and post-finish follow, the creation and the file are counted', async () => {
    const rx = await hookReceiver();
    const server = await startTesseraOnS3(s3, await newBucket(s3ClientFor(s3), 'direct-hooks'), { s3Direct: { partUrlTtlMs: 60_000 }, hooksHttp: testHooks(rx.url) });
    try {
      const chosen = `direct-${randomBytes(4).toString('hex')}`;
      // As tusd, ChangeFileInfo.MetaData replaces the metadata: a receiver adding a field keeps the rest.
      rx.answerWith((body) => (body.Type === 'pre-create' ? { status: 200, body: { ChangeFileInfo: { ID: chosen, MetaData: { ...body.Event.Upload.MetaData, project: 'q4' } } } } : { status: 200, body: {} }));
      const data = randomBytes(1000);
      const { key, completed } = await directClient(server.baseUrl).upload('hooked.bin', [data], { sha256: sha256(data) });
      expect(completed.status).toBe(200);
      expect(key).toBe(chosen);
      await rx.hookFor('post-create', chosen);
      await rx.hookFor('post-finish', chosen);
      const finish = rx.of('post-finish', chosen)[0];
      expect(finish?.Event.Upload).toMatchObject({ ID: chosen, Size: 1000, Offset: 1000, MetaData: { project: 'q4' }, Storage: { Type: 's3store', Key: chosen } });
      expect(finish?.Tessera).toMatchObject({ Sha256: sha256(data), Status: 'done' });
      expect(finish?.Event.HTTPRequest).toMatchObject({ Method: 'POST', URI: expect.stringMatching(/^\/s3\/multipart\/.+\/complete\?key=/) });
      const metrics = await (await fetch(`${server.baseUrl}/metrics`)).text();
      expect(metrics).toMatch(/^tessera_uploads_created_total\{kind="single"\} 1$/m);
      expect(metrics).toMatch(/^tessera_uploads_finished_total 1$/m);
    } finally {
      await server.stop();
      await rx.stop();
    }
  });

  it('MAX_SIZE holds at completion: a larger upload is refused (413) and removed', async () => {
    const bucket = await newBucket(s3ClientFor(s3), 'direct-max');
    const server = await startTesseraOnS3(s3, bucket, { s3Direct: { partUrlTtlMs: 60_000 }, maxSize: 100 });
    try {
      const direct = directClient(server.baseUrl);
      const { key, completed } = await direct.upload('big.bin', [randomBytes(101)]);
      expect(completed.status).toBe(413);
      expect((await head(`${server.endpoint}/${key}`)).status).toBe(404);
      expect((await bucketContents(s3ClientFor(s3), bucket)).uploads).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  it('an abandoned direct upload is removed by the expiry sweep, its multipart upload aborted', async () => {
    const bucket = await newBucket(s3ClientFor(s3), 'direct-expiry');
    const server = await startTesseraOnS3(s3, bucket, { s3Direct: { partUrlTtlMs: 60_000 }, uploadExpiryMs: 1, expirySweepIntervalMs: 3_600_000 });
    try {
      const direct = directClient(server.baseUrl);
      const { key } = await direct.ok<{ key: string; uploadId: string }>(await direct.create('left.bin'));
      await expect.poll(() => server.tessera.sweeper.sweep(), { timeout: 10_000 }).toBeGreaterThan(0);
      expect((await head(`${server.endpoint}/${key}`)).status).toBe(404);
      expect((await bucketContents(s3ClientFor(s3), bucket)).uploads).toEqual([]);
    } finally {
      await server.stop();
    }
  });

  it('without S3_DIRECT there is no /s3; a browser on an allowed origin gets CORS on every answer, preflight included', async () => {
    const off = await startTesseraOnS3(s3, await newBucket(s3ClientFor(s3), 'direct-off'));
    try {
      expect((await fetch(`${off.baseUrl}/s3/multipart`, { method: 'POST' })).status).toBe(404);
    } finally {
      await off.stop();
    }
    const on = await startTesseraOnS3(s3, await newBucket(s3ClientFor(s3), 'direct-cors'), { s3Direct: { partUrlTtlMs: 60_000 }, corsOrigins: ['http://app.example'] });
    try {
      const preflight = await fetch(`${on.baseUrl}/s3/multipart`, { method: 'OPTIONS', headers: { Origin: 'http://app.example', 'Access-Control-Request-Method': 'POST' } });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('http://app.example');
      expect(preflight.headers.get('access-control-allow-headers')).toContain('Content-Type');
      const created = await fetch(`${on.baseUrl}/s3/multipart`, { method: 'POST', headers: { Origin: 'http://app.example', 'content-type': 'application/json' }, body: '{"filename":"x"}' });
      expect(created.headers.get('access-control-allow-origin')).toBe('http://app.example');
      const foreign = await fetch(`${on.baseUrl}/s3/multipart`, { method: 'POST', headers: { Origin: 'http://evil.example', 'content-type': 'application/json' }, body: '{}' });
      expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    } finally {
      await on.stop();
    }
  });
});
