import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { S3 } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../support/bytes.js';
import { runCli } from '../support/cli.js';
import { rawRequest } from '../support/raw-http.js';
import { newBucket, s3ClientFor, startS3Server, startTesseraOnS3, type S3ServerProcess } from '../support/s3.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, randomData } from '../support/tus-http.js';

const run = promisify(execFile);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

interface Backend {
  readonly server: RunningTessera;
  readonly s3?: S3ServerProcess;
  stop(): Promise<void>;
}

const backends: Record<string, () => Promise<Backend>> = {
  'file store': async () => {
    const server = await startTessera();
    return { server, stop: () => server.stop() };
  },
  S3: async () => {
    const s3 = await startS3Server();
    const client: S3 = s3ClientFor(s3);
    const server = await startTesseraOnS3(s3, await newBucket(client, 'ranges'));
    return {
      server,
      s3,
      async stop() {
        await server.stop();
        await s3.stop();
      },
    };
  },
};

/**
 * GET of a finished upload: one byte range per request (206 / 416), validators (ETag,
 * Last-Modified) and the conditional requests they answer (304 / 412), on the file store and
 * on S3, with fetch and with curl as the clients.
 */
describe.each(Object.keys(backends))('downloads with ranges and validators: %s', (kind) => {
  let backend: Backend;
  let url: string;
  let plainUrl: string;
  const data = randomData(100_000);

  beforeAll(async () => {
    backend = await (backends[kind] as () => Promise<Backend>)();
    // One with a declared sha256 (its ETag), one without.
    ({ url } = await create(backend.server.endpoint, { length: data.length, body: data, metadata: { filename: 'data.bin', sha256: sha256(data) } }));
    ({ url: plainUrl } = await create(backend.server.endpoint, { length: data.length, body: data }));
  }, 60_000);
  afterAll(() => backend.stop());

  const get = (target: string, headers: Record<string, string> = {}) => fetch(target, { headers });
  const bytesOf = async (res: Response) => Buffer.from(await res.arrayBuffer());

  it('a whole GET says it takes ranges and carries a strong ETag (the verified sha256) and Last-Modified', async () => {
    const res = await get(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('accept-ranges')).toBe('bytes');
    expect(res.headers.get('etag')).toBe(`"sha256-${sha256(data)}"`);
    expect(new Date(res.headers.get('last-modified') ?? '').getTime()).not.toBeNaN();
    expect(digestOf(await bytesOf(res))).toBe(digestOf(data));
    // Without a sha256: a strong token, the same on every GET.
    const [first, second] = [await get(plainUrl), await get(plainUrl)];
    expect(first.headers.get('etag')).toMatch(/^"t-[A-Za-z0-9_-]{32}"$/);
    expect(second.headers.get('etag')).toBe(first.headers.get('etag'));
    await Promise.all([bytesOf(first), bytesOf(second)]);
  });

  it.each([
    ['the first byte', 'bytes=0-0', 0, 0],
    ['the last byte', 'bytes=99999-99999', 99_999, 99_999],
    ['a suffix', 'bytes=-10', 99_990, 99_999],
    ['open-ended', 'bytes=50000-', 50_000, 99_999],
    ['a range clipped at the end', 'bytes=99990-200000', 99_990, 99_999],
    ['a suffix longer than the file (all of it)', 'bytes=-200000', 0, 99_999],
    ['overlapping ranges joined into one', 'bytes=0-9,5-19', 0, 19],
  ])('%s: 206 with Content-Range and exactly those bytes', async (_name, range, start, end) => {
    const res = await get(url, { Range: range });
    expect(res.status).toBe(206);
    expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/${data.length}`);
    expect(res.headers.get('content-length')).toBe(String(end - start + 1));
    expect(digestOf(await bytesOf(res))).toBe(digestOf(data.subarray(start, end + 1)));
  });

  it.each([
    ['past the end', 'bytes=100000-'],
    ['a zero suffix', 'bytes=-0'],
    ['last before first', 'bytes=10-5'],
  ])('%s: 416 with Content-Range: bytes */size, one line', async (_name, range) => {
    const res = await get(url, { Range: range });
    expect(res.status).toBe(416);
    expect(res.headers.get('content-range')).toBe(`bytes */${data.length}`);
    expect((await res.text()).trim().split('\n')).toHaveLength(1);
  });

  it.each([
    ['several ranges', 'bytes=0-0,500-599'],
    ['a malformed range', 'bytes=abc'],
    ['another unit', 'items=0-5'],
  ])('%s: 200 with the whole file', async (_name, range) => {
    const res = await get(url, { Range: range });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-range')).toBeNull();
    expect(digestOf(await bytesOf(res))).toBe(digestOf(data));
  });

  it('If-None-Match / If-Modified-Since: 304 without a body while the client has the current bytes', async () => {
    const first = await get(url);
    const etag = first.headers.get('etag') ?? '';
    const lastModified = first.headers.get('last-modified') ?? '';
    await bytesOf(first);
    for (const headers of <Record<string, string>[]>[{ 'If-None-Match': etag }, { 'If-None-Match': `"other", W/${etag}` }, { 'If-None-Match': '*' }, { 'If-Modified-Since': lastModified }]) {
      const res = await get(url, headers);
      expect(res.status).toBe(304);
      expect(res.headers.get('etag')).toBe(etag);
      expect((await bytesOf(res)).length).toBe(0);
    }
    for (const headers of <Record<string, string>[]>[{ 'If-None-Match': '"other"' }, { 'If-Modified-Since': new Date(Date.parse(lastModified) - 1000).toUTCString() }, { 'If-Modified-Since': 'not a date' }]) {
      const res = await get(url, headers);
      expect(res.status).toBe(200);
      expect(digestOf(await bytesOf(res))).toBe(digestOf(data));
    }
  });

  it('If-Match / If-Unmodified-Since: 412 when the file is not the one the client means', async () => {
    const first = await get(url);
    const etag = first.headers.get('etag') ?? '';
    const lastModified = first.headers.get('last-modified') ?? '';
    await bytesOf(first);
    for (const headers of <Record<string, string>[]>[{ 'If-Match': '"other"' }, { 'If-Match': `W/${etag}` }, { 'If-Unmodified-Since': new Date(Date.parse(lastModified) - 1000).toUTCString() }]) {
      const res = await get(url, headers);
      expect(res.status).toBe(412);
      expect((await res.text()).trim().split('\n')).toHaveLength(1);
    }
    for (const headers of <Record<string, string>[]>[{ 'If-Match': etag }, { 'If-Match': '*' }, { 'If-Unmodified-Since': lastModified }]) {
      const res = await get(url, { ...headers, Range: 'bytes=0-9' });
      expect(res.status).toBe(206);
      expect(digestOf(await bytesOf(res))).toBe(digestOf(data.subarray(0, 10)));
    }
  });

  it('If-Range: the range for the same file (ETag or exact date), the whole file for a stale validator', async () => {
    const first = await get(url);
    const etag = first.headers.get('etag') ?? '';
    const lastModified = first.headers.get('last-modified') ?? '';
    await bytesOf(first);
    for (const ifRange of [etag, lastModified]) {
      const res = await get(url, { Range: 'bytes=10-19', 'If-Range': ifRange });
      expect(res.status).toBe(206);
      expect(digestOf(await bytesOf(res))).toBe(digestOf(data.subarray(10, 20)));
    }
    for (const ifRange of ['"stale"', `W/${etag}`, new Date(Date.parse(lastModified) - 1000).toUTCString()]) {
      const res = await get(url, { Range: 'bytes=10-19', 'If-Range': ifRange });
      expect(res.status).toBe(200);
      expect(digestOf(await bytesOf(res))).toBe(digestOf(data));
    }
  });

  it('curl: a range with -r, and a download cut at half resumed with -C - (byte-identical)', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-curl-'));
    try {
      const out = path.join(dir, 'part.bin');
      await run('curl', ['-sS', '-f', '-r', '100-199', '-o', out, url]);
      expect(digestOf(await fs.readFile(out))).toBe(digestOf(data.subarray(100, 200)));
      // What an interrupted download leaves: the first half on disk.
      const whole = path.join(dir, 'whole.bin');
      await fs.writeFile(whole, data.subarray(0, data.length / 2));
      const { stderr } = await run('curl', ['-sS', '-f', '-C', '-', '-o', whole, '-w', '%{http_code}', url]);
      expect(stderr).toBe('');
      expect(digestOf(await fs.readFile(whole))).toBe(digestOf(data));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('an empty file: 200 with no bytes, any range 416', async () => {
    const { url: empty } = await create(backend.server.endpoint, { length: 0 });
    const whole = await get(empty);
    expect(whole.status).toBe(200);
    expect((await bytesOf(whole)).length).toBe(0);
    const ranged = await get(empty, { Range: 'bytes=0-' });
    expect(ranged.status).toBe(416);
    expect(ranged.headers.get('content-range')).toBe('bytes */0');
    await ranged.arrayBuffer();
  });

  if (kind === 'S3') {
    it('S3 sends only the bytes of the range (GetObject with Range), never the whole object', async () => {
      const s3 = backend.s3 as S3ServerProcess;
      const before = (await s3.stats()).GetObject?.bytesOut ?? 0;
      const res = await get(url, { Range: 'bytes=1000-1099' });
      expect(res.status).toBe(206);
      expect((await bytesOf(res)).length).toBe(100);
      const sent = ((await s3.stats()).GetObject?.bytesOut ?? 0) - before;
      // The range, plus the lifecycle record (a small JSON object in the bucket) at most.
      expect(sent).toBeGreaterThanOrEqual(100);
      expect(sent).toBeLessThan(2_000);
    });
  }
});

/**
 * DOWNLOAD_REDIRECT=presigned: after the same checks as any GET (owner, done, preconditions),
 * a GET answers 307 to a short-lived presigned GetObject URL, and the bytes come from S3.
 */
describe('S3 direct download (DOWNLOAD_REDIRECT=presigned)', () => {
  let s3: S3ServerProcess;
  let server: RunningTessera;
  const data = randomData(50_000);
  // A stand-in for JWT: the caller names itself (what the redirect must respect is the owner rule).
  const as = (owner: string) => ({ 'X-Owner': owner });

  beforeAll(async () => {
    s3 = await startS3Server();
    server = await startTesseraOnS3(
      s3,
      await newBucket(s3ClientFor(s3), 'redirect'),
      { downloadRedirect: { ttlMs: 60_000 } },
      { authenticate: async (req) => (req.headers.get('x-owner') ? { owner: req.headers.get('x-owner') as string } : undefined) },
    );
  }, 60_000);
  afterAll(async () => {
    await server.stop();
    await s3.stop();
  });

  it('answers 307 to a presigned S3 URL that serves the bytes, the filename, and ranges; never cached', async () => {
    const { url } = await create(server.endpoint, { length: data.length, body: data, metadata: { filename: 'report.pdf', filetype: 'application/pdf' }, headers: as('alice') });
    const res = await fetch(url, { redirect: 'manual', headers: as('alice') });
    expect(res.status).toBe(307);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const location = new URL(res.headers.get('location') ?? '');
    expect(location.origin).toBe(new URL(s3.endpoint).origin);
    expect(location.searchParams.get('X-Amz-Expires')).toBe('60');

    const direct = await fetch(location);
    expect(direct.status).toBe(200);
    expect(direct.headers.get('content-type')).toBe('application/pdf');
    expect(direct.headers.get('content-disposition')).toMatch(/^attachment; filename="?report\.pdf"?$/);
    expect(digestOf(Buffer.from(await direct.arrayBuffer()))).toBe(digestOf(data));
    const ranged = await fetch(location, { headers: { Range: 'bytes=10-19' } });
    expect(ranged.status).toBe(206);
    expect(digestOf(Buffer.from(await ranged.arrayBuffer()))).toBe(digestOf(data.subarray(10, 20)));

    // A client that follows redirects gets the file (fetch drops the credentials on the way to S3).
    const followed = await fetch(url, { headers: as('alice') });
    // The same presigned URL but for its signing time (a second may have passed between the two GETs).
    const unsigned = (signed: string) => {
      const u = new URL(signed);
      for (const timed of ['X-Amz-Date', 'X-Amz-Signature']) u.searchParams.delete(timed);
      return u.toString();
    };
    expect(unsigned(followed.url)).toBe(unsigned(location.toString()));
    expect(digestOf(Buffer.from(await followed.arrayBuffer()))).toBe(digestOf(data));
  });

  it('tessera download follows the redirect and verifies the file against the SHA-256 Tessera reports', async () => {
    const { url } = await create(server.endpoint, { length: data.length, body: data, metadata: { sha256: sha256(data) }, headers: as('alice') });
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-redirect-'));
    try {
      const result = await runCli(['download', url, path.join(dir, 'out.bin'), '-H', 'X-Owner: alice', '--json'], { home: dir });
      expect(result.code).toBe(0);
      expect(result.events.find((e) => e.event === 'done')).toMatchObject({ verified: true, sha256: sha256(data) });
      expect(digestOf(await fs.readFile(path.join(dir, 'out.bin')))).toBe(digestOf(data));
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });

  it('the same rules as any GET first: another owner gets 404 and no URL, an unfinished upload 404, If-None-Match 304', async () => {
    const { url } = await create(server.endpoint, { length: data.length, body: data, headers: as('alice') });
    const foreign = await fetch(url, { redirect: 'manual', headers: as('mallory') });
    expect(foreign.status).toBe(404);
    expect(foreign.headers.get('location')).toBeNull();
    const { url: unfinished } = await create(server.endpoint, { length: data.length, body: data.subarray(0, 10), headers: as('alice') });
    const early = await fetch(unfinished, { redirect: 'manual', headers: as('alice') });
    expect(early.status).toBe(404);
    expect(early.headers.get('location')).toBeNull();
    const first = await fetch(url, { redirect: 'manual', headers: as('alice') });
    const etag = first.headers.get('etag') ?? '';
    const cached = await fetch(url, { redirect: 'manual', headers: { ...as('alice'), 'If-None-Match': etag } });
    expect(cached.status).toBe(304);
    expect(cached.headers.get('location')).toBeNull();
  });

  it('another spelling of the upload URL (dot-segments, escapes, a trailing slash) is a 404 with no range, no validators and no redirect', async () => {
    const { url } = await create(server.endpoint, { length: data.length, body: data, headers: as('alice') });
    const target = new URL(url);
    const id = target.pathname.split('/').pop() as string;
    for (const spelling of [`/files/x/../${id}`, `/files/./${id}`, `/files/${id}/`, `/files/%2e%2e/files/${id}`, `/files/${id.slice(0, 3)}%${id.charCodeAt(3).toString(16)}${id.slice(4)}`]) {
      const res = await rawRequest(target.origin, 'GET', spelling, { ...as('alice'), Range: 'bytes=0-9', 'If-None-Match': '*' });
      expect(res.status).toBe(404);
      expect(res.headers.location).toBeUndefined();
      expect(res.headers['content-range']).toBeUndefined();
      expect(res.headers.etag).toBeUndefined();
    }
    // A query never names an upload: it is the same URL, with the same rules.
    const queried = await fetch(`${url}?id=other`, { redirect: 'manual', headers: as('alice') });
    expect(queried.status).toBe(307);
  });
});
