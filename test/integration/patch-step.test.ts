import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { promisify } from 'node:util';
import type { S3 } from '@aws-sdk/client-s3';
import { EVENTS, type Upload } from '@tus/utils';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { newBucket, s3ClientFor, startS3Server, startTesseraOnS3, type S3ServerProcess } from '../support/s3.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, head, patch, randomData } from '../support/tus-http.js';

const run = promisify(execFile);
const TUS = { 'Tus-Resumable': '1.0.0' };
const patchHeaders = (offset: number, extra: Record<string, string> = {}) => ({
  ...TUS,
  'Upload-Offset': String(offset),
  'Content-Type': 'application/offset+octet-stream',
  ...extra,
});
const checksum = (algorithm: string, data: Buffer) => `${algorithm} ${createHash(algorithm).update(data).digest('base64')}`;

/** A PATCH whose body is sent chunked (Transfer-Encoding), with optional trailers. */
function chunkedPatch(url: string, offset: number, body: Buffer, extra: Record<string, string> = {}, trailers?: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'PATCH', headers: patchHeaders(offset, extra), agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.setHeader('Transfer-Encoding', 'chunked');
    if (body.length > 0) req.write(body);
    if (trailers) req.addTrailers(trailers);
    req.end();
  });
}

/**
 * Tessera's own PATCH step (src/tus/patch-handler.ts) keeps what @tus/server's PatchHandler
 * promised its listeners: POST_FINISH once, for the PATCH that stored the last byte, and
 * POST_RECEIVE progress while a body arrives.
 */
describe('the PATCH step and @tus/server events', () => {
  let server: RunningTessera;
  beforeEach(async () => {
    server = await startTessera();
  });
  afterEach(() => server.stop());

  it('POST_FINISH fires once, for the PATCH that stored the last byte; not for a re-sent empty last PATCH', async () => {
    const finished: string[] = [];
    server.tessera.tus.on(EVENTS.POST_FINISH, (_req: Request, _res: Response, upload: Upload) => finished.push(upload.id));
    const { url } = await create(server.endpoint, { length: 6 });
    const id = new URL(url).pathname.split('/').pop();
    expect((await patch(url, 0, randomData(3))).status).toBe(204);
    expect(finished).toEqual([]);
    expect((await patch(url, 3, randomData(3))).status).toBe(204);
    expect((await patch(url, 6, Buffer.alloc(0))).status).toBe(204);
    expect(finished).toEqual([id]);
  });

  it('POST_RECEIVE reports the offset while a slow body arrives (at most once per second)', async () => {
    const progress: number[] = [];
    let reported: () => void = () => {};
    const firstReport = new Promise<void>((resolve) => (reported = resolve));
    server.tessera.tus.on(EVENTS.POST_RECEIVE, (_source: unknown, upload: Upload) => {
      progress.push(upload.offset);
      reported();
    });
    const { url } = await create(server.endpoint, { length: 1000 });
    const req = http.request(url, {
      method: 'PATCH',
      headers: { 'Tus-Resumable': '1.0.0', 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream', 'Content-Length': '1000' },
    });
    const answered = new Promise<http.IncomingMessage>((resolve, reject) => req.on('response', resolve).on('error', reject));
    // One byte at a time until the server reports progress (it does once a second has passed),
    // bounded: 10 bytes a second for at most 30 s.
    let sent = 0;
    let done = false;
    void firstReport.then(() => (done = true));
    while (!done && sent < 300) {
      req.write(Buffer.alloc(1));
      sent += 1;
      await Promise.race([firstReport, new Promise((resolve) => setTimeout(resolve, 100))]);
    }
    req.end(Buffer.alloc(1000 - sent));
    expect((await answered).statusCode).toBe(204);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]).toBeGreaterThan(0);
    expect(progress[0]).toBeLessThanOrEqual(sent);
    expect((await head(url)).headers.get('upload-offset')).toBe('1000');
  });
});

const backends: Record<string, () => Promise<{ server: RunningTessera; stop(): Promise<void> }>> = {
  'file store': async () => {
    const server = await startTessera();
    return { server, stop: () => server.stop() };
  },
  S3: async () => {
    const s3: S3ServerProcess = await startS3Server();
    const client: S3 = s3ClientFor(s3);
    const server = await startTesseraOnS3(s3, await newBucket(client, 'resent'));
    return {
      server,
      async stop() {
        await server.stop();
        await s3.stop();
      },
    };
  },
};

/**
 * A PATCH at the end of a complete upload (a client re-sending its last, empty chunk) settles
 * it if needed and announces nothing again, however its empty body is framed; a body with a
 * byte in it is a 413 and changes nothing; a checksum it declares must be the empty body's.
 */
describe.each(Object.keys(backends))('a PATCH at the end of a complete upload: %s', (kind) => {
  let backend: { server: RunningTessera; stop(): Promise<void> };
  let url: string;
  let id: string;
  const finished: string[] = [];
  const ready: string[] = [];
  const data = randomData(1000);

  beforeAll(async () => {
    backend = await (backends[kind] as () => Promise<typeof backend>)();
    backend.server.tessera.tus.on(EVENTS.POST_FINISH, (_req: Request, _res: Response, upload: Upload) => finished.push(upload.id));
    backend.server.tessera.events.on('file-ready', (upload: { id: string }) => ready.push(upload.id));
    ({ url } = await create(backend.server.endpoint, { length: data.length }));
    id = new URL(url).pathname.split('/').pop() as string;
    expect((await patch(url, 0, data)).status).toBe(204);
  }, 60_000);
  afterAll(() => backend.stop());

  const unchanged = async () => {
    const res = await head(url);
    expect(res.headers.get('upload-offset')).toBe(String(data.length));
    expect(res.headers.get('tessera-upload-status')).toBe('done');
    expect(finished).toEqual([id]);
    expect(ready).toEqual([id]);
  };

  it.each([
    ['Content-Length: 0', () => patch(url, data.length, Buffer.alloc(0)).then((r) => r.status)],
    ['chunked, empty', () => chunkedPatch(url, data.length, Buffer.alloc(0))],
    ['chunked, with the empty body\'s checksum as a trailer', () =>
      chunkedPatch(url, data.length, Buffer.alloc(0), { Trailer: 'Upload-Checksum' }, { 'Upload-Checksum': checksum('sha1', Buffer.alloc(0)) })],
    ['Content-Length: 0 with the empty body\'s checksum', () =>
      patch(url, data.length, Buffer.alloc(0), { 'Upload-Checksum': checksum('sha256', Buffer.alloc(0)) }).then((r) => r.status)],
  ])('%s: 204, announced once', async (_name, send) => {
    expect(await send()).toBe(204);
    await unchanged();
  });

  it('no length at all (curl -X PATCH sends none): 204, announced once', async () => {
    const args = ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'PATCH'];
    for (const [name, value] of Object.entries(patchHeaders(data.length))) args.push('-H', `${name}: ${value}`);
    const { stdout } = await run('curl', [...args, url]);
    expect(stdout).toBe('204');
    await unchanged();
  });

  it.each([
    ['a chunked byte', () => chunkedPatch(url, data.length, Buffer.from('x')), 413],
    ['Content-Length: 1', () => patch(url, data.length, Buffer.from('x')).then((r) => r.status), 413],
    ['a wrong checksum trailer', () =>
      chunkedPatch(url, data.length, Buffer.alloc(0), { Trailer: 'Upload-Checksum' }, { 'Upload-Checksum': checksum('sha1', Buffer.from('x')) }), 460],
    ['a missing checksum trailer', () => chunkedPatch(url, data.length, Buffer.alloc(0), { Trailer: 'Upload-Checksum' }), 400],
    ['a wrong checksum header', () =>
      patch(url, data.length, Buffer.alloc(0), { 'Upload-Checksum': checksum('sha1', Buffer.from('x')) }).then((r) => r.status), 460],
  ])('%s: refused (%#), the upload unchanged', async (_name, send, status) => {
    expect(await send()).toBe(status);
    await unchanged();
  });
});
