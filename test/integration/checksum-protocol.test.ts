import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, offsetOf, patch, randomData, TUS } from '../support/tus-http.js';

const ALGORITHMS = ['sha1', 'md5', 'sha256', 'sha512', 'crc32'] as const;
type Algorithm = (typeof ALGORITHMS)[number];

function digestOf(algorithm: Algorithm, data: Buffer): string {
  if (algorithm === 'crc32') {
    const out = Buffer.alloc(4);
    out.writeUInt32BE(crc32(data) >>> 0);
    return out.toString('base64');
  }
  return createHash(algorithm).update(data).digest('base64');
}

const checksumHeader = (algorithm: Algorithm, data: Buffer) => ({
  'Upload-Checksum': `${algorithm} ${digestOf(algorithm, data)}`,
});

interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** A PATCH with a chunked body and, optionally, HTTP trailers (fetch cannot send trailers). */
function chunkedPatch(
  url: string,
  offset: number,
  parts: readonly Buffer[],
  headers: Record<string, string>,
  trailers?: Record<string, string>,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'PATCH',
      headers: { ...TUS, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream', ...headers },
    });
    req.once('error', reject);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    for (const part of parts) req.write(part);
    if (trailers) req.addTrailers(trailers);
    req.end();
  });
}

/** Polls (bounded) until `check` holds; throws with `what` when it never does. */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let attempt = 0; attempt < 400; attempt += 1) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`never happened: ${what}`);
}

describe('tus checksum extension', () => {
  let server: RunningTessera;
  beforeAll(async () => {
    server = await startTessera({ lockDrainTimeoutMs: 200 });
  });
  afterAll(async () => {
    await server.stop();
  });

  const idOf = (url: string) => decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  const stored = (url: string) => fs.readFile(path.join(server.dataDir, idOf(url)));

  /** An upload of `size` bytes whose first `first.length` bytes are already stored. */
  async function uploadWithFirstChunk(size: number, first: Buffer): Promise<string> {
    const { url } = await create(server.endpoint, { length: size });
    expect((await patch(url, 0, first)).status).toBe(204);
    return url;
  }

  /** After a failed request: the old offset per HEAD and exactly the old bytes on disk. */
  async function expectUnchanged(url: string, before: Buffer): Promise<void> {
    expect(await offsetOf(url)).toBe(before.length);
    expect((await stored(url)).equals(before)).toBe(true);
  }

  it('advertises checksum, checksum-trailer and the algorithms on OPTIONS', async () => {
    const res = await fetch(server.endpoint, { method: 'OPTIONS' });
    expect(res.status).toBe(204);
    const extensions = (res.headers.get('tus-extension') ?? '').split(',');
    expect(extensions).toEqual(expect.arrayContaining(['checksum', 'checksum-trailer']));
    expect(res.headers.get('tus-checksum-algorithm')).toBe('sha1,md5,sha256,sha512,crc32');
  });

  describe.each(ALGORITHMS)('%s', (algorithm) => {
    it('keeps a matching chunk and advances the offset', async () => {
      const first = randomData(3000);
      const second = randomData(5000);
      const url = await uploadWithFirstChunk(8000, first);
      const res = await patch(url, first.length, second, checksumHeader(algorithm, second));
      expect(res.status).toBe(204);
      expect(res.headers.get('upload-offset')).toBe('8000');
      expect((await stored(url)).equals(Buffer.concat([first, second]))).toBe(true);
    });

    it('answers 460 to a mismatching chunk and discards it', async () => {
      const first = randomData(3000);
      const second = randomData(5000);
      const url = await uploadWithFirstChunk(8000, first);
      const tampered = Buffer.from(second);
      tampered[1234] = (tampered[1234] ?? 0) ^ 0x01;
      const res = await patch(url, first.length, tampered, checksumHeader(algorithm, second));
      expect(res.status).toBe(460);
      expect(await res.text()).toBe('Checksum Mismatch\n');
      await expectUnchanged(url, first);
    });
  });

  it('verifies a chunk sent with the upper-case algorithm name', async () => {
    const data = randomData(1000);
    const { url } = await create(server.endpoint, { length: 1000 });
    const res = await patch(url, 0, data, { 'Upload-Checksum': `SHA256 ${digestOf('sha256', data)}` });
    expect(res.status).toBe(204);
  });

  it('answers 400 to an unsupported algorithm, naming the supported ones, and stores nothing', async () => {
    const first = randomData(1000);
    const url = await uploadWithFirstChunk(3000, first);
    const res = await patch(url, first.length, randomData(2000), { 'Upload-Checksum': 'sha3-256 AAAA' });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/Unsupported checksum algorithm/);
    expect(res.headers.get('tus-checksum-algorithm')).toBe('sha1,md5,sha256,sha512,crc32');
    await expectUnchanged(url, first);
  });

  it.each([
    ['no digest', 'sha1'],
    ['no separator', 'sha1:qZk+NkcGgWq6PiVxeFDCbJzQ2J0='],
    ['two digests', 'sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0= qZk+NkcGgWq6PiVxeFDCbJzQ2J0='],
    ['a digest that is not base64', 'sha1 not*base64!'],
    ['unpadded base64', 'sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0'],
    ['a digest of the wrong size', `sha256 ${Buffer.alloc(20).toString('base64')}`],
  ])('answers 400 to a malformed header (%s) and stores nothing', async (_case, value) => {
    const first = randomData(1000);
    const url = await uploadWithFirstChunk(3000, first);
    const res = await patch(url, first.length, randomData(2000), { 'Upload-Checksum': value });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/Malformed Upload-Checksum/);
    await expectUnchanged(url, first);
  });

  it('leaves PATCHes without Upload-Checksum as they were', async () => {
    const data = randomData(4000);
    const { url } = await create(server.endpoint, { length: 4000 });
    const res = await patch(url, 0, data);
    expect(res.status).toBe(204);
    expect((await stored(url)).equals(data)).toBe(true);
  });

  describe('creation-with-upload', () => {
    it('keeps a POST body that matches its checksum', async () => {
      const body = randomData(4000);
      const { res, url } = await create(server.endpoint, { length: 10_000, body, headers: checksumHeader('sha1', body) });
      expect(res.status).toBe(201);
      expect(res.headers.get('upload-offset')).toBe('4000');
      expect((await stored(url)).equals(body)).toBe(true);
    });

    it('answers 460 to a mismatching POST body and leaves no upload behind', async () => {
      const before = new Set(await fs.readdir(server.dataDir));
      const body = randomData(4000);
      const { res } = await create(server.endpoint, {
        length: 10_000,
        body,
        headers: checksumHeader('sha1', randomData(4000)),
      });
      expect(res.status).toBe(460);
      expect(res.headers.get('location')).toBeNull();
      expect(new Set(await fs.readdir(server.dataDir))).toEqual(before);
    });
  });

  describe('checksum-trailer', () => {
    it('verifies a chunked PATCH against its Upload-Checksum trailer', async () => {
      const first = randomData(2000);
      const parts = [randomData(3000), randomData(70_000), randomData(10)];
      const all = Buffer.concat(parts);
      const url = await uploadWithFirstChunk(2000 + all.length, first);
      const res = await chunkedPatch(url, first.length, parts, { Trailer: 'Upload-Checksum' }, checksumHeader('sha512', all));
      expect(res.status).toBe(204);
      expect(res.headers['upload-offset']).toBe(String(2000 + all.length));
      expect((await stored(url)).equals(Buffer.concat([first, all]))).toBe(true);
    });

    it('accepts every algorithm in the trailer', async () => {
      for (const algorithm of ALGORITHMS) {
        const data = randomData(5000);
        const { url } = await create(server.endpoint, { length: 5000 });
        const res = await chunkedPatch(url, 0, [data], { Trailer: 'Upload-Checksum' }, checksumHeader(algorithm, data));
        expect(res.status, algorithm).toBe(204);
      }
    });

    it('answers 460 when the trailer does not match and discards the chunk', async () => {
      const first = randomData(2000);
      const second = randomData(4000);
      const url = await uploadWithFirstChunk(6000, first);
      const res = await chunkedPatch(url, first.length, [second], { Trailer: 'Upload-Checksum' }, checksumHeader('md5', first));
      expect(res.status).toBe(460);
      await expectUnchanged(url, first);
    });

    it('answers 400 to a malformed trailer and discards the chunk', async () => {
      const first = randomData(2000);
      const url = await uploadWithFirstChunk(6000, first);
      const res = await chunkedPatch(url, first.length, [randomData(4000)], { Trailer: 'Upload-Checksum' }, {
        'Upload-Checksum': 'whirlpool AAAA',
      });
      expect(res.status).toBe(400);
      await expectUnchanged(url, first);
    });

    it('discards the chunk when the announced trailer never comes', async () => {
      const first = randomData(2000);
      const url = await uploadWithFirstChunk(6000, first);
      const res = await chunkedPatch(url, first.length, [randomData(4000)], { Trailer: 'Upload-Checksum' });
      expect(res.status).toBe(400);
      expect(res.body).toMatch(/trailer was not sent/);
      await expectUnchanged(url, first);
    });

    it('refuses a trailer announced on a body with Content-Length', async () => {
      const first = randomData(2000);
      const url = await uploadWithFirstChunk(6000, first);
      const res = await patch(url, first.length, randomData(4000), { Trailer: 'Upload-Checksum' });
      expect(res.status).toBe(400);
      await expectUnchanged(url, first);
    });

    it('refuses a checksum sent both as header and as trailer', async () => {
      const first = randomData(2000);
      const second = randomData(4000);
      const url = await uploadWithFirstChunk(6000, first);
      const res = await chunkedPatch(
        url,
        first.length,
        [second],
        { Trailer: 'Upload-Checksum', ...checksumHeader('sha1', second) },
        checksumHeader('sha1', second),
      );
      expect(res.status).toBe(400);
      await expectUnchanged(url, first);
    });
  });

  describe('a body that ends before it can be verified', () => {
    /** Starts a checksummed PATCH that sends `sent` of `body` and then stalls. */
    function stalledPatch(url: string, offset: number, body: Buffer, sent: number) {
      const req = http.request(url, {
        method: 'PATCH',
        headers: {
          ...TUS,
          'Upload-Offset': String(offset),
          'Content-Type': 'application/offset+octet-stream',
          'Content-Length': String(body.length),
          ...checksumHeader('sha256', body),
        },
      });
      const outcome = new Promise<number | 'no response'>((resolve) => {
        req.once('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.once('error', () => resolve('no response'));
        req.once('close', () => resolve('no response'));
      });
      req.write(body.subarray(0, sent));
      return { req, outcome };
    }

    it('discards the partial chunk of a client that disconnects', async () => {
      const first = randomData(4096);
      const second = randomData(1024 * 1024);
      const url = await uploadWithFirstChunk(first.length + second.length, first);
      const { req, outcome } = stalledPatch(url, first.length, second, 512 * 1024);
      // Only meaningful once the server has stored part of the chunk.
      await eventually('part of the chunk reaches the disk', async () => (await stored(url)).length > first.length);
      req.destroy();
      await outcome;
      await eventually('the partial chunk is discarded', async () => (await stored(url)).length === first.length);
      await expectUnchanged(url, first);
      // The lock is free and the offset is the old one: the client can resume from there.
      const retry = await patch(url, first.length, second, checksumHeader('sha256', second));
      expect(retry.status).toBe(204);
      expect((await stored(url)).equals(Buffer.concat([first, second]))).toBe(true);
    });

    it('discards the partial chunk of a lock holder asked to release for another PATCH', async () => {
      const first = randomData(4096);
      const second = randomData(1024 * 1024);
      const url = await uploadWithFirstChunk(first.length + second.length, first);
      const stalled = stalledPatch(url, first.length, second, 256 * 1024);
      await eventually('part of the chunk reaches the disk', async () => (await stored(url)).length > first.length);

      // The newcomer waits for the lock; the holder is cut short after lockDrainTimeout.
      const newcomer = await patch(url, first.length, second, checksumHeader('sha256', second));
      expect(newcomer.status).toBe(204);
      const holder = await stalled.outcome;
      // Without the guard @tus/server would have answered 204 with the partial offset.
      expect(holder === 'no response' || holder >= 400).toBe(true);
      stalled.req.destroy();
      expect((await stored(url)).equals(Buffer.concat([first, second]))).toBe(true);
    });
  });
});
