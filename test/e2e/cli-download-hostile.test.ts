import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, get: number) => void;

/** An HTTP server on 127.0.0.1 that answers GETs its own way (a tus HEAD gets a plain 200); `get` counts GETs. */
async function server(handler: Handler): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  let gets = 0;
  const http_ = http.createServer((req, res) => {
    if (req.method === 'HEAD') return void res.writeHead(200, { 'Tus-Resumable': '1.0.0' }).end();
    handler(req, res, gets++);
  });
  await new Promise<void>((resolve) => http_.listen(0, '127.0.0.1', resolve));
  const { port } = http_.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/files/abc`,
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        http_.closeAllConnections();
        http_.close(() => resolve());
      }),
  };
}

/** Answers `data` honestly: one range (206) or all of it. */
function serve(req: http.IncomingMessage, res: http.ServerResponse, data: Buffer, extra: Record<string, string> = {}): void {
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  if (!range) return void res.writeHead(200, { 'Content-Length': String(data.length), ...extra }).end(data);
  const start = Number(range[1]);
  const end = range[2] ? Math.min(Number(range[2]), data.length - 1) : data.length - 1;
  res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${data.length}`, 'Content-Length': String(end - start + 1), ...extra });
  res.end(data.subarray(start, end + 1));
}

/** A TCP proxy that resets the first connection that has carried `after` bytes towards the client. */
async function resettingProxy(target: number, after: number): Promise<{ url: (pathname: string) => string; stop(): Promise<void> }> {
  let reset = false;
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    sockets.add(client).add(upstream);
    let carried = 0;
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      carried += chunk.length;
      if (!reset && carried > after) {
        reset = true;
        client.resetAndDestroy();
        upstream.destroy();
        return;
      }
      client.write(chunk);
    });
    upstream.on('end', () => client.end());
    for (const socket of [client, upstream]) socket.on('error', () => undefined).on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;
  return {
    url: (pathname) => `http://127.0.0.1:${port}${pathname}`,
    stop: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        proxy.close(() => resolve());
      }),
  };
}

/**
 * `tessera download` against servers and networks that do not behave: it ends with exactly the
 * server's bytes or with a failure it names, never with exit 0 and other bytes.
 */
describe('tessera download against hostile servers and networks', () => {
  let work: string;
  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-download-hostile-'));
  });
  afterAll(() => fs.rm(work, { recursive: true, force: true }));
  const target = (name: string) => path.join(work, name);
  const leftovers = async (name: string) => (await fs.readdir(work)).filter((entry) => entry.startsWith(name));

  it('a connection reset mid-body (no digest to catch it): the retry continues where the bytes on disk end, byte-exact', async () => {
    const data = randomBytes(24 * 1024 * 1024);
    const origin = await server((req, res) => serve(req, res, data, { ETag: '"v1"' }));
    const proxy = await resettingProxy(origin.port, 10 * 1024 * 1024);
    try {
      const result = await runCli(['download', proxy.url('/files/abc'), target('reset.bin'), '--json'], { home: work });
      expect(result.code).toBe(0);
      expect(result.events.some((e) => e.event === 'retry')).toBe(true);
      expect(sha256(await fs.readFile(target('reset.bin')))).toBe(sha256(data));
    } finally {
      await proxy.stop();
      await origin.stop();
    }
  });

  it.each([
    ['a body longer than announced', (req: http.IncomingMessage, res: http.ServerResponse, get: number) =>
      get === 0 ? serve(req, res, Buffer.alloc(10)) : res.writeHead(200).end(Buffer.alloc(30))],
    ['a Content-Range for another total', (req: http.IncomingMessage, res: http.ServerResponse, get: number) =>
      get === 0 ? serve(req, res, Buffer.alloc(100)) : res.writeHead(206, { 'Content-Range': 'bytes 0-299/300' }).end(Buffer.alloc(300))],
    ['a Content-Range from elsewhere', (req: http.IncomingMessage, res: http.ServerResponse, get: number) =>
      get === 0 ? serve(req, res, Buffer.alloc(100)) : res.writeHead(206, { 'Content-Range': 'bytes 50-99/100' }).end(Buffer.alloc(50))],
    ['a redirect to file:', (req: http.IncomingMessage, res: http.ServerResponse) => void res.writeHead(307, { Location: 'file:///etc/passwd' }).end()],
  ])('%s: exit 8 in one line, no file', async (name, handler) => {
    const origin = await server(handler);
    try {
      const file = `hostile-${name.replace(/\W+/g, '-')}.bin`;
      const result = await runCli(['download', origin.url, target(file)], { home: work });
      expect(result.code).toBe(8);
      expect(result.stderr.trim().split('\n').at(-1)).toMatch(/^tessera: error: /);
      await expect(fs.stat(target(file))).rejects.toThrow();
    } finally {
      await origin.stop();
    }
  });

  it('a full disk: exit 3 at once, not retried as a network failure', async () => {
    const data = randomBytes(64 * 1024);
    const origin = await server((req, res) => serve(req, res, data));
    try {
      // Every write to the part file fails with ENOSPC, as on a full disk.
      await fs.symlink('/dev/full', `${target('full.bin')}.tessera-part`);
      const result = await runCli(['download', origin.url, target('full.bin'), '--json'], { home: work });
      expect(result.code).toBe(3);
      expect(result.stderr).toMatch(/cannot write .*full\.bin: disk full/);
      expect(result.events.some((e) => e.event === 'retry')).toBe(false);
    } finally {
      await fs.rm(`${target('full.bin')}.tessera-part`, { force: true });
      await origin.stop();
    }
  });

  it.each([
    [' .npmrc', 'npmrc'],
    ['  ..', 'abc'],
    [`${'n'.repeat(240)}.tar.gz`, `${'n'.repeat(230)}.tar.gz`],
    [`${'日'.repeat(83)}.tar`, `${'日'.repeat(77)}.tar`],
  ])('the server names the file %j: written as %j, in this directory', async (given, written) => {
    const dir = await fs.mkdtemp(path.join(work, 'names-'));
    const origin = await server((req, res) => serve(req, res, Buffer.from('x'), { 'Content-Disposition': `attachment; filename*=UTF-8''${encodeURIComponent(given)}` }));
    try {
      const result = await runCli(['download', origin.url, dir], { home: work });
      expect(result.code).toBe(0);
      expect(await fs.readdir(dir)).toEqual([written]);
      expect(Buffer.byteLength(written)).toBeLessThanOrEqual(237);
    } finally {
      await origin.stop();
    }
  });

  it('a file that appears at the name while downloading is kept without --force (exit 2, the bytes stay in the part file)', async () => {
    const data = randomBytes(2 * 1024 * 1024);
    let appear: () => Promise<void> = async () => undefined;
    const origin = await server((req, res, get) => {
      if (get === 0) return serve(req, res, data, { ETag: '"v1"' });
      // The file appears while the body is on its way.
      void appear().then(() => serve(req, res, data, { ETag: '"v1"' }));
    });
    appear = () => fs.writeFile(target('appears.bin'), 'someone else');
    try {
      const result = await runCli(['download', origin.url, target('appears.bin')], { home: work });
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/appeared while downloading; pass --force/);
      expect(await fs.readFile(target('appears.bin'), 'utf8')).toBe('someone else');
      expect(sha256(await fs.readFile(`${target('appears.bin')}.tessera-part`))).toBe(sha256(data));
    } finally {
      await origin.stop();
      for (const name of await leftovers('appears.bin')) await fs.rm(path.join(work, name), { force: true });
    }
  });

  it('two runs to one file at once: one gets the bytes, the other stops at once (exit 2)', async () => {
    const data = randomBytes(4 * 1024 * 1024);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const origin = await server((req, res, get) => {
      // The first run's transfer waits until the second has been refused.
      if (get === 1) return void held.then(() => serve(req, res, data, { ETag: '"v1"' }));
      serve(req, res, data, { ETag: '"v1"' });
    });
    try {
      const first = runCli(['download', origin.url, target('twice.bin')], { home: work });
      // The lock is taken before the transfer starts.
      while (!(await fs.stat(`${target('twice.bin')}.tessera-part.lock`).catch(() => undefined))) await new Promise((resolve) => setImmediate(resolve));
      const second = await runCli(['download', origin.url, target('twice.bin')], { home: work });
      release();
      expect(second.code).toBe(2);
      expect(second.stderr).toMatch(/another download to .*twice\.bin is running/);
      expect((await first).code).toBe(0);
      expect(sha256(await fs.readFile(target('twice.bin')))).toBe(sha256(data));
      expect(await leftovers('twice.bin')).toEqual(['twice.bin']);
    } finally {
      release();
      await origin.stop();
    }
  });
});
