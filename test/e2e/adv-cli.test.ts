import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FileStore } from '@tus/file-store';
import { Server } from '@tus/server';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { runCli, spawnCli } from '../support/cli.js';
import { startHostileProxy, type HostileProxy } from '../support/hostile-proxy.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';

const MiB = 1024 * 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const brief = (events: Record<string, unknown>[]) => events.filter((e) => e.event !== 'progress').map((e) => JSON.stringify(e).slice(0, 260)).join('\n');

/** Proxy that black-holes a connection once the client sends `Upload-Concat: final`. */
async function finalHole(port: number) {
  let holes = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    let silent = false;
    const close = () => { if (silent) return; client.destroy(); upstream.destroy(); };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.on('data', (chunk: Buffer) => {
      if (silent) return;
      if (/upload-concat: final/i.test(chunk.toString('latin1'))) { silent = true; holes += 1; client.pause(); return; }
      upstream.write(chunk);
    });
    upstream.on('data', (c: Buffer) => { if (!silent) client.write(c); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, holes: () => holes, stop: () => new Promise((r) => { server.close(r); }) };
}

describe('adv cli', () => {
  let server: RunningTessera;
  let proxy: HostileProxy;
  let work: string;
  let finishDelay = 0;
  beforeAll(async () => {
    server = await startTessera(
      { lockDrainTimeoutMs: 200 },
      { hooks: { onUploadFinish: async () => { if (finishDelay) await new Promise((r) => setTimeout(r, finishDelay)); return {}; } } as never },
    );
    proxy = await startHostileProxy({ host: '127.0.0.1', port: Number(new URL(server.baseUrl).port) });
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'adv-cli-'));
  });
  afterAll(async () => {
    await proxy.stop();
    await server.stop();
    await fs.rm(work, { recursive: true, force: true });
  });
  let n = 0;
  const makeFile = async (size: number) => {
    const data = randomBytes(size);
    const file = path.join(work, `f${(n += 1)}.bin`);
    await fs.writeFile(file, data);
    return { file, data };
  };
  const args = (file: string, ep: string, ...extra: string[]) => ['upload', file, '--endpoint', ep, '--state-dir', path.join(work, 'state'), '--json', ...extra];
  const stored = async (url: string) => sha256(await fs.readFile(path.join(server.dataDir, decodeURIComponent(new URL(url).pathname.split('/').pop() ?? ''))));

  it('parallel 4 through resets every 1.5 MiB', async () => {
    const { file, data } = await makeFile(24 * MiB);
    proxy.setFault({ kind: 'reset-every', bytes: 1.5 * MiB });
    const before = proxy.stats;
    const t0 = Date.now();
    const r = await runCli(args(file, `${proxy.url}/files`, '--parallel', '4', '--chunk-size', '4MiB'), { home: work });
    proxy.setFault({ kind: 'none' });
    const done = r.events.find((e) => e.event === 'done');
    const ok = done ? (await stored(String(done.url))) === sha256(data) : false;
    const sizeEvents = r.events.filter((e) => e.event === 'chunk-size');
    const urls = new Set(sizeEvents.map((e) => e.url));
    console.log('PARALLEL code', r.code, 'ok', ok, `${Date.now() - t0}ms`, 'sent', proxy.stats.bytesUp - before.bytesUp, 'resets', proxy.stats.resets - before.resets, 'distinct urls adapting', urls.size, '\n' + brief(r.events).split('\n').slice(0, 12).join('\n'), '\n...\n', brief(r.events).split('\n').slice(-4).join('\n'), r.stderr.slice(-300));
  }, 180_000);

  it('black hole during OPTIONS', async () => {
    const { file } = await makeFile(1 * MiB);
    proxy.setFault({ kind: 'black-hole' });
    const t0 = Date.now();
    const r = await runCli(args(file, `${proxy.url}/files`, '--stall-timeout', '1s', '--retries', '2'), { home: work });
    proxy.setFault({ kind: 'none' });
    console.log('OPTIONS-HOLE code', r.code, `${Date.now() - t0}ms`, '\n' + brief(r.events), '\nSTDERR', r.stderr.slice(-400));
  }, 60_000);

  it('black hole on the final POST of a parallel upload', async () => {
    const { file } = await makeFile(4 * MiB);
    const hole = await finalHole(Number(new URL(server.baseUrl).port));
    const run = spawnCli(args(file, `${hole.url}/files`, '--parallel', '2', '--stall-timeout', '1s', '--retries', '2'), { home: work });
    const result = await Promise.race([run.exited, new Promise((r) => setTimeout(() => r('still running after 40 s'), 40_000))]);
    console.log('FINAL-HOLE', JSON.stringify(result), 'holes', hole.holes(), '\n' + brief(run.events), run.stderr().slice(-300));
    run.child.kill('SIGINT');
    const after = await Promise.race([run.exited, new Promise((r) => setTimeout(() => r('no exit 5 s after SIGINT'), 5_000))]);
    console.log('FINAL-HOLE after SIGINT', JSON.stringify(after), run.stderr().slice(-300));
    if (typeof after === 'string') run.child.kill('SIGKILL');
    await hole.stop();
  }, 60_000);

  it('slow finish on the server (hook 6 s) with --stall-timeout 1s --retries 2', async () => {
    const { file, data } = await makeFile(2 * MiB);
    finishDelay = 6000;
    const t0 = Date.now();
    const r = await runCli(args(file, server.endpoint, '--stall-timeout', '1s', '--retries', '2', '--chunk-size', '1MiB'), { home: work });
    finishDelay = 0;
    const done = r.events.find((e) => e.event === 'done');
    console.log('SLOW-FINISH code', r.code, `${Date.now() - t0}ms`, done ? (await stored(String(done.url))) === sha256(data) : '', '\n' + brief(r.events), '\nSTDERR', r.stderr.slice(-500));
    await new Promise((r2) => setTimeout(r2, 6000));
  }, 60_000);

  it('--checksum auto against vanilla @tus/server', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'adv-vanilla-'));
    const tus = new Server({ path: '/files', datastore: new FileStore({ directory: dir }) });
    const s = http.createServer((req, res) => void tus.handle(req, res));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const { file } = await makeFile(1 * MiB);
    const r = await runCli(args(file, `http://127.0.0.1:${(s.address() as net.AddressInfo).port}/files`), { home: work });
    console.log('VANILLA code', r.code, '\n' + brief(r.events), '\nSTDERR', r.stderr.slice(-400));
    s.closeAllConnections();
    await new Promise((r2) => s.close(r2));
    await fs.rm(dir, { recursive: true, force: true });
  }, 60_000);
});
