import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGet } from '../../src/cli/download/http-get.js';
import { runCli, spawnCli, type CliEvent } from '../support/cli.js';
import { startThrottleProxy } from '../support/cli-throttle-proxy.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create } from '../support/tus-http.js';

const MiB = 1024 * 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const ofKind = (events: CliEvent[], kind: string) => events.filter((e) => e.event === kind);

/**
 * `tessera download`: the real command (bin/tessera.js) against a real server, through real
 * TCP proxies where a transfer must be slowed down or damaged.
 */
describe('tessera download', () => {
  let work: string;
  let server: RunningTessera;
  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-download-'));
    // A stand-in for JWT: the caller names itself in a header.
    server = await startTessera({}, { authenticate: async (req) => (req.headers.get('x-owner') ? { owner: req.headers.get('x-owner') as string } : undefined) });
  });
  afterAll(async () => {
    await server.stop();
    await fs.rm(work, { recursive: true, force: true });
  });

  const owner = ['-H', 'X-Owner: alice'];
  const upload = async (data: Buffer, metadata?: Record<string, string>) => {
    const { res, url } = await create(server.endpoint, { length: data.length, body: data, metadata, headers: { 'X-Owner': 'alice' } });
    expect(res.status).toBe(201);
    return url;
  };
  const target = (name: string) => path.join(work, name);

  it('writes a verified file, prints its path, and names it after the upload in a directory', async () => {
    const data = randomBytes(3 * MiB);
    const url = await upload(data, { filename: 'report.pdf', sha256: sha256(data) });
    const explicit = await runCli(['download', url, target('explicit.bin'), ...owner], { home: work });
    expect(explicit.code).toBe(0);
    expect(explicit.stdout).toBe(`${target('explicit.bin')}\n`);
    expect(explicit.stderr).toContain('downloaded and verified');
    expect(sha256(await fs.readFile(target('explicit.bin')))).toBe(sha256(data));

    await fs.mkdir(target('dir'));
    const json = await runCli(['download', url, target('dir'), ...owner, '--json'], { home: work });
    expect(json.code).toBe(0);
    const done = ofKind(json.events, 'done')[0] as CliEvent;
    expect(done).toMatchObject({ file: path.join(target('dir'), 'report.pdf'), size: data.length, sha256: sha256(data), verified: true, resumed: false });
    expect((await fs.readdir(target('dir'))).sort()).toEqual(['report.pdf']);
  });

  it('killed (SIGKILL) at half, a re-run resumes from the bytes it kept and fetches only the rest', async () => {
    const data = randomBytes(8 * MiB);
    const url = new URL(await upload(data, { sha256: sha256(data) }));
    const address = new URL(server.baseUrl);
    const proxy = await startThrottleProxy({ host: address.hostname, port: Number(address.port) }, 4 * MiB, { direction: 'download' });
    try {
      const viaProxy = `${proxy.url}${url.pathname}`;
      const args = ['download', viaProxy, target('resumed.bin'), ...owner, '--json'];
      const first = spawnCli(args, { home: work });
      await first.waitForEvent((e) => e.event === 'progress' && (e.bytesReceived as number) >= data.length / 2);
      first.child.kill('SIGKILL');
      expect((await first.exited).signal).toBe('SIGKILL');
      const kept = (await fs.stat(`${target('resumed.bin')}.tessera-part`)).size;
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThan(data.length);
      await expect(fs.stat(target('resumed.bin'))).rejects.toThrow();

      proxy.setRate(Number.POSITIVE_INFINITY);
      const second = await runCli(args, { home: work });
      expect(second.code).toBe(0);
      expect(ofKind(second.events, 'resume')[0]).toMatchObject({ offset: kept });
      expect(ofKind(second.events, 'done')[0]).toMatchObject({ resumed: true, verified: true, receivedThisRun: data.length - kept, sha256: sha256(data) });
      expect(sha256(await fs.readFile(target('resumed.bin')))).toBe(sha256(data));
      expect((await fs.readdir(work)).filter((name) => name.startsWith('resumed.bin.'))).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  it('a byte damaged in transit: exit 7, no file, nothing kept for a next run', async () => {
    const data = randomBytes(2 * MiB);
    const url = new URL(await upload(data, { sha256: sha256(data) }));
    const proxy = await flippingProxy(server.baseUrl, 1000);
    try {
      const result = await runCli(['download', `${proxy.url}${url.pathname}`, target('damaged.bin'), ...owner], { home: work });
      expect(result.code).toBe(7);
      expect(result.stderr.trim().split('\n').at(-1)).toMatch(/^tessera: error: the downloaded bytes do not match the server's SHA-256/);
      expect((await fs.readdir(work)).filter((name) => name.startsWith('damaged.bin'))).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  it('without a SHA-256 on the server: exit 0, said to be not verified', async () => {
    const data = randomBytes(1000);
    const url = await upload(data);
    const result = await runCli(['download', url, target('plain.bin'), ...owner, '--json'], { home: work });
    expect(result.code).toBe(0);
    expect(ofKind(result.events, 'sha256')[0]?.message).toMatch(/reports no SHA-256 for this file: not verified/);
    expect(ofKind(result.events, 'done')[0]).toMatchObject({ verified: false, sha256: sha256(data) });
  });

  it('refusals in one line with the exit-code table: 404 (8), 401 (5), an existing file (2), bad arguments (2)', async () => {
    const data = randomBytes(10);
    const url = await upload(data, { sha256: sha256(data) });
    const cases: [string[], number, RegExp][] = [
      [['download', url, target('x.bin'), '-H', 'X-Owner: mallory'], 8, /no finished upload at .* \(404\)/],
      [['download', url, target('x.bin')], 5, /refused the download \(401\)/],
      [['download', `${server.endpoint}/nope`, target('x.bin'), ...owner], 8, /\(404\)/],
      [['download', 'ftp://example/x', target('x.bin')], 2, /http or https/],
    ];
    for (const [args, code, message] of cases) {
      const result = await runCli(args, { home: work });
      expect(result.code).toBe(code);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
      expect(result.stderr).toMatch(message);
    }
    await fs.writeFile(target('exists.bin'), 'old');
    const refused = await runCli(['download', url, target('exists.bin'), ...owner], { home: work });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/already exists; pass --force/);
    expect(await fs.readFile(target('exists.bin'), 'utf8')).toBe('old');
    expect((await runCli(['download', url, target('exists.bin'), ...owner, '--force'], { home: work })).code).toBe(0);
    expect(sha256(await fs.readFile(target('exists.bin')))).toBe(sha256(data));
  });

  it('follows a redirect to another host without the credentials given for the server', async () => {
    const seen: http.IncomingHttpHeaders[] = [];
    const store = http.createServer((req, res) => {
      seen.push(req.headers);
      res.end('bytes');
    });
    await new Promise<void>((resolve) => store.listen(0, '127.0.0.1', resolve));
    const storeUrl = `http://127.0.0.1:${(store.address() as AddressInfo).port}/object`;
    // localhost vs 127.0.0.1: another origin on the same machine.
    const front = http.createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(307, { Location: storeUrl }).end();
    });
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    try {
      const res = await httpGet(`http://localhost:${(front.address() as AddressInfo).port}/files/x`, { Range: 'bytes=0-' }, { Authorization: 'Bearer secret' }, new AbortController().signal);
      res.body.resume();
      expect(res.status).toBe(200);
      expect(res.url).toBe(storeUrl);
      expect(seen[0]?.authorization).toBe('Bearer secret');
      expect(seen[1]?.authorization).toBeUndefined();
      expect(seen[1]?.range).toBe('bytes=0-');
    } finally {
      store.close();
      front.close();
    }
  });
});

/** An HTTP proxy that flips one bit of the byte at `index` in every response body longer than that. */
async function flippingProxy(target: string, index: number): Promise<{ url: string; stop(): Promise<void> }> {
  const upstream = new URL(target);
  const proxy = http.createServer((req, res) => {
    const forward = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      let position = 0;
      answer.on('data', (chunk: Buffer) => {
        if (position <= index && index < position + chunk.length) chunk[index - position] = (chunk[index - position] as number) ^ 0x01;
        position += chunk.length;
        res.write(chunk);
      });
      answer.on('end', () => res.end());
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    stop: () => new Promise<void>((resolve) => proxy.close(() => resolve())),
  };
}
