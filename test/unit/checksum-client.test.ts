import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { DefaultHttpStack } from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestBody } from '../../src/client/body-digest.js';
import { nodeHashFactory } from '../../src/client/platform-hashes.js';
import { withChecksum, type ChecksumAlgorithm } from '../../src/client/index.js';

interface Received {
  readonly method: string;
  readonly checksum: string | undefined;
  readonly contentLength: string | undefined;
  readonly body: Buffer;
}

const digest = (algorithm: 'sha1' | 'sha256' | 'md5' | 'sha512', data: Buffer) =>
  createHash(algorithm).update(data).digest('base64');

/** A real HTTP server that records what tus-js-client's Node stack actually sent. */
describe('withChecksum over tus-js-client’s Node HTTP stack', () => {
  let server: http.Server;
  let url: string;
  const received: Received[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({
          method: req.method ?? '',
          checksum: req.headers['upload-checksum'] as string | undefined,
          contentLength: req.headers['content-length'],
          body: Buffer.concat(chunks),
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/files/x`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const send = async (stack: ReturnType<typeof withChecksum>, method: string, body: unknown) => {
    const before = received.length;
    const res = await stack.createRequest(method, url).send(body);
    expect(res.getStatus()).toBe(204);
    expect(received).toHaveLength(before + 1);
    return received[before] as Received;
  };

  it.each<[ChecksumAlgorithm, (d: Buffer) => string]>([
    ['sha256', (d) => `sha256 ${digest('sha256', d)}`],
    ['sha1', (d) => `sha1 ${digest('sha1', d)}`],
    ['md5', (d) => `md5 ${digest('md5', d)}`],
    ['sha512', (d) => `sha512 ${digest('sha512', d)}`],
  ])('declares the %s of a Buffer PATCH body', async (algorithm, expected) => {
    const data = randomBytes(200_000);
    const got = await send(withChecksum(new DefaultHttpStack({}), { algorithm }), 'PATCH', data);
    expect(got.checksum).toBe(expected(data));
    expect(got.body.equals(data)).toBe(true);
  });

  it('declares the crc32 as 4 big-endian bytes', async () => {
    const got = await send(withChecksum(new DefaultHttpStack({}), { algorithm: 'crc32' }), 'PATCH', Buffer.from('123456789'));
    expect(got.checksum).toBe(`crc32 ${Buffer.from([0xcb, 0xf4, 0x39, 0x26]).toString('base64')}`);
  });

  it('hashes the exact range of an fs.ReadStream and still sends that stream', async () => {
    const data = randomBytes(300_000);
    const file = path.join(os.tmpdir(), `tessera-checksum-${process.pid}.bin`);
    fs.writeFileSync(file, data);
    try {
      const stream = fs.createReadStream(file, { start: 1000, end: 250_999 }) as fs.ReadStream & { size?: number };
      stream.size = 250_000;
      const got = await send(withChecksum(new DefaultHttpStack({})), 'PATCH', stream);
      const range = data.subarray(1000, 251_000);
      expect(got.body.equals(range)).toBe(true);
      expect(got.checksum).toBe(`sha256 ${digest('sha256', range)}`);
    } finally {
      fs.rmSync(file, { force: true });
    }
  });

  it('replaces a one-shot Readable body by its bytes, with a Content-Length', async () => {
    const data = randomBytes(150_000);
    const got = await send(withChecksum(new DefaultHttpStack({})), 'PATCH', Readable.from([data.subarray(0, 10), data.subarray(10)]));
    expect(got.body.equals(data)).toBe(true);
    expect(got.contentLength).toBe(String(data.length));
    expect(got.checksum).toBe(`sha256 ${digest('sha256', data)}`);
  });

  it('declares a checksum on a POST with a body (creation-with-upload), not on one without', async () => {
    const stack = withChecksum(new DefaultHttpStack({}), { algorithm: 'sha1' });
    const data = randomBytes(1000);
    expect((await send(stack, 'POST', data)).checksum).toBe(`sha1 ${digest('sha1', data)}`);
    expect((await send(stack, 'POST', null)).checksum).toBeUndefined();
    expect((await send(stack, 'HEAD', null)).checksum).toBeUndefined();
  });

  it('does not send a request aborted while its chunk was being hashed', async () => {
    const before = received.length;
    const req = withChecksum(new DefaultHttpStack({})).createRequest('PATCH', url);
    const sending = req.send(randomBytes(1000));
    await req.abort();
    await expect(sending).rejects.toThrow(/aborted/);
    expect(received).toHaveLength(before);
  });

  it('refuses an unknown algorithm up front', () => {
    expect(() => withChecksum(new DefaultHttpStack({}), { algorithm: 'sha3' as ChecksumAlgorithm })).toThrow(TypeError);
  });

  it('names itself after the stack it wraps, with the layers it adds', () => {
    expect(withChecksum(new DefaultHttpStack({}), { algorithm: 'md5' }).getName()).toBe('NodeHttpStack+stall-watchdog+checksum(md5)+adaptive-chunks');
    expect(withChecksum(new DefaultHttpStack({}), { algorithm: 'md5', stallTimeoutMs: false, adaptiveChunks: false }).getName()).toBe('NodeHttpStack+checksum(md5)');
  });
});

describe('digestBody', () => {
  const data = randomBytes(70_000);
  const expected = createHash('sha256').update(data).digest();

  it.each([
    ['Uint8Array', () => new Uint8Array(data)],
    ['ArrayBuffer', () => data.buffer.slice(data.byteOffset, data.byteOffset + data.length)],
    ['DataView', () => new DataView(data.buffer, data.byteOffset, data.length)],
    ['Blob (browser files)', () => new Blob([data.subarray(0, 1), data.subarray(1)])],
  ])('hashes a %s body and sends it unchanged', async (_kind, make) => {
    const body = make();
    const result = await digestBody(body, await nodeHashFactory('sha256'));
    expect(Buffer.from(result.digest)).toEqual(expected);
    expect(result.body).toBe(body);
  });

  it('rejects a body it cannot hash', async () => {
    await expect(digestBody({ nope: true }, await nodeHashFactory('sha256'))).rejects.toThrow(TypeError);
  });
});
