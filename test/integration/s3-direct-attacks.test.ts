import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directClient } from '../support/direct-s3.js';
import { gate, hookReceiver, testHooks } from '../support/hook-receiver.js';
import { bucketContents, newBucket, s3ClientFor, startS3Backend, startTesseraOnS3, type S3ServerProcess } from '../support/s3.js';
import { head } from '../support/tus-http.js';

const MiB = 1024 * 1024;
const etagOf = (data: Buffer) => `"${createHash('md5').update(data).digest('hex')}"`;

/**
 * A byte-for-byte proxy to the S3 server that can hold the n-th ListParts (its request, or its
 * answer on the way back) or the next CompleteMultipartUpload until the test releases it: the
 * order of events a racing client would need, made certain (a fault no S3 produces on its own).
 */
async function holdingProxy(upstream: string) {
  const target = new URL(upstream);
  let armed: { countdown: number; reached: ReturnType<typeof gate>; release: ReturnType<typeof gate>; answer?: boolean } | undefined;
  let completeHold: { reached: ReturnType<typeof gate>; release: ReturnType<typeof gate> } | undefined;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    const isListParts = req.method === 'GET' && url.searchParams.has('uploadId') && !url.searchParams.has('partNumber');
    const isComplete = req.method === 'POST' && url.searchParams.has('uploadId');
    const upstreamRequest = (onAnswer: (answer: http.IncomingMessage) => void) => {
      const out = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, onAnswer);
      req.pipe(out);
    };
    const forward = () =>
      upstreamRequest((answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
    if (isComplete && completeHold) {
      const { reached, release } = completeHold;
      completeHold = undefined;
      reached.open();
      void release.opened.then(forward);
      return;
    }
    if (isListParts && armed && --armed.countdown === 0) {
      const { reached, release, answer } = armed;
      armed = undefined;
      if (!answer) {
        reached.open();
        void release.opened.then(forward);
        return;
      }
      upstreamRequest((s3answer) => {
        const chunks: Buffer[] = [];
        s3answer.on('data', (c: Buffer) => chunks.push(c));
        s3answer.on('end', () => {
          reached.open();
          void release.opened.then(() => res.writeHead(s3answer.statusCode ?? 502, s3answer.headers).end(Buffer.concat(chunks)));
        });
      });
      return;
    }
    forward();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    holdListParts(nth: number, options: { answer?: boolean } = {}) {
      armed = { countdown: nth, reached: gate(), release: gate(), ...options };
      return { reached: armed.reached.opened, release: armed.release.open };
    },
    holdComplete() {
      completeHold = { reached: gate(), release: gate() };
      return { reached: completeHold.reached.opened, release: completeHold.release.open };
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Issue #18, found by an adversarial pass over direct uploads; each was a failing test first.
 * Against the test S3 server (and a holding proxy in front of it for the races).
 */
describe('direct uploads under attack', () => {
  let s3: S3ServerProcess;
  let proxy: Awaited<ReturnType<typeof holdingProxy>>;
  beforeAll(async () => {
    s3 = await startS3Backend('s3-test-server');
    proxy = await holdingProxy(s3.endpoint);
  });
  afterAll(async () => {
    await proxy?.stop();
    await s3?.stop();
  });
  const start = async (label: string, overrides: Parameters<typeof startTesseraOnS3>[2] = {}, options: Parameters<typeof startTesseraOnS3>[3] = {}, viaProxy = false) => {
    const bucket = await newBucket(s3ClientFor(s3), label);
    const server = await startTesseraOnS3(viaProxy ? { ...s3, endpoint: proxy.endpoint } : s3, bucket, { s3Direct: { partUrlTtlMs: 60_000 }, ...overrides }, options);
    return { bucket, server, direct: directClient(server.baseUrl) };
  };

  it('MAX_SIZE bounds what a client can park in the bucket: no part is signed past the room left, nor a part number no upload within it can have', async () => {
    const { server, direct } = await start('atk-maxsize', { maxSize: 6 * MiB });
    try {
      const { key, uploadId } = await direct.ok<{ key: string; uploadId: string }>(await direct.create('big.bin'));
      expect((await direct.sign(key, uploadId, 3)).status).toBe(413);
      const { url } = await direct.ok<{ url: string }>(await direct.sign(key, uploadId, 1));
      expect((await fetch(url, { method: 'PUT', body: randomBytes(6 * MiB) })).status).toBe(200);
      const refused = await direct.sign(key, uploadId, 2);
      expect([refused.status, await refused.text()]).toEqual([413, `The parts S3 holds leave no room for this one within MAX_SIZE (${6 * MiB} bytes)\n`]);
      expect(Number((await head(`${server.endpoint}/${key}`)).headers.get('upload-offset'))).toBeLessThanOrEqual(6 * MiB);
    } finally {
      await server.stop();
    }
  });

  it('a size the client declares is signed into the part URL: S3 refuses a body of another length', async () => {
    const { server, direct } = await start('atk-size');
    try {
      const { key, uploadId } = await direct.ok<{ key: string; uploadId: string }>(await direct.create('sized.bin'));
      const res = await direct.sign(key, uploadId, 1);
      expect(res.status).toBe(200);
      const signed = await fetch(`${server.baseUrl}/s3/multipart/${encodeURIComponent(uploadId)}/1?key=${key}&size=100`);
      const { url } = (await signed.json()) as { url: string };
      expect((await fetch(url, { method: 'PUT', body: randomBytes(200) })).status).toBe(403);
      expect((await fetch(url, { method: 'PUT', body: randomBytes(100) })).status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  it('RATE_LIMIT_PER_MINUTE holds on /s3 as on /files, one budget for both', async () => {
    const { server, direct } = await start('atk-rate', { rateLimitPerMinute: 3 });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i += 1) statuses.push((await direct.create(`f${i}.bin`)).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      expect((await fetch(server.endpoint, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', 'Upload-Length': '1' } })).status).toBe(429);
    } finally {
      await server.stop();
    }
  });

  it('metadata a tus client could never send (a control character, a key outside ASCII, a nested value) is refused at creation; HEAD of every upload keeps working', async () => {
    const { server, direct } = await start('atk-meta');
    try {
      for (const metadata of [{ 'a\u007fb': 'v' }, { ключ: 'v' }, { 'a\u0000b': 'v' }, { k: { deep: [1, 2] } }]) {
        expect((await direct.create('m.bin', metadata)).status, JSON.stringify(metadata)).toBe(400);
      }
      const { key } = await direct.ok<{ key: string }>(await direct.create('fine.bin', { project: 'q4', count: 3 }));
      expect((await head(`${server.endpoint}/${key}`)).status).toBe(200);
      const big = JSON.stringify({ filename: 'x', metadata: { k: 'v'.repeat(2 * MiB) } });
      expect((await fetch(`${server.baseUrl}/s3/multipart`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big })).status).toBe(413);
    } finally {
      await server.stop();
    }
  });

  it('a key that is no upload id names no upload: 404 for every call, never 500', async () => {
    const { server, direct } = await start('atk-keys');
    try {
      for (const key of ['../x', 'a/b', '.tessera-state', 'x'.repeat(300), '%2e%2e']) {
        expect((await direct.sign(key, 'u', 1)).status, key).toBe(404);
        expect((await direct.list(key, 'u')).status, key).toBe(404);
        expect((await direct.complete(key, 'u', [{ PartNumber: 1, ETag: 'x' }])).status, key).toBe(404);
        expect((await direct.abort(key, 'u')).status, key).toBe(404);
      }
    } finally {
      await server.stop();
    }
  });

  it('an abort asks pre-terminate (which may refuse it) and is followed by post-terminate, as a DELETE is', async () => {
    const receiver = await hookReceiver();
    const { server, direct } = await start('atk-hooks', { hooksHttp: testHooks(receiver.url, { events: new Set(['pre-terminate', 'post-terminate'] as const) }) });
    try {
      receiver.answerWith((body) => (body.Type === 'pre-terminate' ? { status: 200, body: { RejectTermination: true, HTTPResponse: { StatusCode: 403, Body: 'legal hold' } } } : { status: 200, body: {} }));
      const held = await direct.ok<{ key: string; uploadId: string }>(await direct.create('held.bin'));
      expect((await direct.abort(held.key, held.uploadId)).status).toBe(403);
      expect((await head(`${server.endpoint}/${held.key}`)).status).toBe(200);
      receiver.answerWith(() => ({ status: 200, body: {} }));
      expect((await direct.abort(held.key, held.uploadId)).status).toBe(200);
      await receiver.hookFor('post-terminate', held.key);
      expect(receiver.of('post-terminate', held.key)[0]?.Event.HTTPRequest.Method).toBe('DELETE');
    } finally {
      await server.stop();
      await receiver.stop();
    }
  });

  it('a part replaced by a larger one while the completion runs cannot make a finished upload larger than MAX_SIZE', async () => {
    const { server, direct } = await start('atk-max-race', { maxSize: 6 * MiB }, {}, true);
    try {
      const { key, uploadId } = await direct.ok<{ key: string; uploadId: string }>(await direct.create('race.bin'));
      const first = randomBytes(5 * MiB);
      const big = randomBytes(5 * MiB);
      const urls: string[] = [];
      for (const n of [1, 2]) urls.push((await direct.ok<{ url: string }>(await direct.sign(key, uploadId, n))).url);
      expect((await fetch(urls[0] ?? '', { method: 'PUT', body: first })).status).toBe(200);
      expect((await fetch(urls[1] ?? '', { method: 'PUT', body: randomBytes(100) })).status).toBe(200);
      // S3's answer to the completion's listing is held on its way back; meanwhile the client swaps in a bigger last part.
      const held = proxy.holdListParts(1, { answer: true });
      const completing = direct.complete(key, uploadId, [{ PartNumber: 1, ETag: etagOf(first) }, { PartNumber: 2, ETag: etagOf(big) }]);
      await held.reached;
      expect((await fetch(urls[1] ?? '', { method: 'PUT', body: big })).status).toBe(200);
      held.release();
      // Refused: the parts completed from are the listed ones, ETags and sizes both (S3 holds the ETag to it).
      expect((await completing).status).toBe(400);
      const status = await head(`${server.endpoint}/${key}`);
      expect(status.headers.get('tessera-upload-status')).toBe('receiving');
      expect(status.headers.get('upload-length')).toBeNull();
    } finally {
      await server.stop();
    }
  });

  it('an abort that checked the upload before its completion finished does not remove the done, announced file', async () => {
    const finished: string[] = [];
    const { server, direct } = await start('atk-abort-race', {}, { hooks: { onUploadFinish: async (_req, upload) => (finished.push(upload.id), {}) } }, true);
    try {
      const data = randomBytes(1000);
      const { key, uploadId } = await direct.ok<{ key: string; uploadId: string }>(await direct.create('abort-race.bin'));
      const { url } = await direct.ok<{ url: string }>(await direct.sign(key, uploadId, 1));
      expect((await fetch(url, { method: 'PUT', body: data })).status).toBe(200);
      // The abort has seen the upload receiving; S3's answer to its check is held on the way back.
      const held = proxy.holdListParts(1, { answer: true });
      const aborting = direct.abort(key, uploadId);
      await held.reached;
      expect((await direct.complete(key, uploadId, [{ PartNumber: 1, ETag: etagOf(data) }])).status).toBe(200);
      expect(finished).toEqual([key]);
      held.release();
      expect((await aborting).status).toBe(404);
      expect((await head(`${server.endpoint}/${key}`)).headers.get('tessera-upload-status')).toBe('done');
    } finally {
      await server.stop();
    }
  });

  it('the record of a direct creation that died before its upload existed (kill -9 between the two) is dropped by the recovery pass once it is old; a young one is kept', async () => {
    const { server } = await start('atk-orphan');
    try {
      const { state } = server.tessera;
      // What a process killed between the record and the store's creation leaves: a record, no data.
      await state.update('orphan0123456789abcdef0123456789', () => ({ kind: 'single', status: 'receiving', direct: true, createdAt: Date.now() - 11 * 60_000 }));
      await state.update('young00123456789abcdef0123456789', () => ({ kind: 'single', status: 'receiving', direct: true, createdAt: Date.now() }));
      await server.tessera.recovery.run();
      expect(await state.get('orphan0123456789abcdef0123456789')).toBeUndefined();
      expect(await state.get('young00123456789abcdef0123456789')).toMatchObject({ direct: true });
    } finally {
      await server.stop();
    }
  });

  it('parts reshuffled while S3 completes (InvalidPart): the upload is not left declared whole with parts that cannot make it; it expires', async () => {
    const { bucket, server, direct } = await start('atk-stuck', { uploadExpiryMs: 1, expirySweepIntervalMs: 3_600_000 }, {}, true);
    try {
      const { key, uploadId } = await direct.ok<{ key: string; uploadId: string }>(await direct.create('stuck.bin'));
      const urls: string[] = [];
      for (const n of [1, 2]) urls.push((await direct.ok<{ url: string }>(await direct.sign(key, uploadId, n))).url);
      const put = async (n: number, body: Buffer) => expect((await fetch(urls[n - 1] ?? '', { method: 'PUT', body })).status).toBe(200);
      const one = randomBytes(5 * MiB);
      const two = randomBytes(1000);
      await put(1, one);
      await put(2, two);
      const held = proxy.holdComplete();
      const completing = direct.complete(key, uploadId, [{ PartNumber: 1, ETag: etagOf(one) }, { PartNumber: 2, ETag: etagOf(two) }]);
      await held.reached;
      await put(1, randomBytes(1000));
      await put(2, randomBytes(5 * MiB));
      held.release();
      expect((await completing).status).toBeGreaterThanOrEqual(400);
      // Readable (expired already: UPLOAD_EXPIRY is 1 ms here), never a 500 on every read.
      expect((await head(`${server.endpoint}/${key}`)).status).toBe(410);
      expect(await server.tessera.sweeper.sweep()).toBeGreaterThan(0);
      expect((await head(`${server.endpoint}/${key}`)).status).toBe(404);
      expect((await bucketContents(s3ClientFor(s3), bucket)).uploads).not.toContain(key);
    } finally {
      await server.stop();
    }
  });
});
