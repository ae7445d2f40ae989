import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { DefaultHttpStack, Upload } from 'tus-js-client';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { retryOnChecksumMismatch, withChecksum, type ChunkSizeChange } from '../../src/client/index.js';
import { runCli } from '../support/cli.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';

const MiB = 1024 * 1024;
const KiB = 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Forwards client->server at `rate` bytes/s (moving steadily, never silent). */
async function throttleProxy(port: number, rate: number) {
  let bytes = 0;
  const server = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1');
    const close = () => { client.destroy(); upstream.destroy(); };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    upstream.pipe(client);
    const queue: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const tick = () => {
      let budget = rate / 20;
      while (budget > 0 && queue.length) {
        const head = queue[0]!;
        const n = Math.min(head.length, budget);
        upstream.write(head.subarray(0, n));
        bytes += n;
        budget -= n;
        if (n === head.length) queue.shift(); else queue[0] = head.subarray(n);
      }
      if (queue.length === 0) { client.resume(); clearInterval(timer); timer = undefined; }
    };
    client.on('data', (chunk: Buffer) => {
      queue.push(chunk);
      client.pause();
      if (!timer) timer = setInterval(tick, 50);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, bytes: () => bytes, stop: () => new Promise((r) => server.close(r)) };
}

describe('adv throttle', () => {
  let server: RunningTessera;
  let work: string;
  beforeAll(async () => {
    server = await startTessera({ lockDrainTimeoutMs: 200 });
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'adv-throttle-'));
  });
  afterAll(async () => {
    await server.stop();
    await fs.rm(work, { recursive: true, force: true });
  });

  it('tus-js-client on a slow-but-moving link (256 KiB/s), 4 MiB chunk, stall timeout 3 s', async () => {
    const proxy = await throttleProxy(Number(new URL(server.baseUrl).port), 256 * KiB);
    const data = randomBytes(6 * MiB);
    const changes: ChunkSizeChange[] = [];
    const events: string[] = [];
    const t0 = Date.now();
    let outcome = '';
    try {
      await new Promise<void>((resolve, reject) => {
        const upload = new Upload(data, {
          endpoint: `${proxy.url}/files`,
          chunkSize: 6 * MiB,
          httpStack: withChecksum(new DefaultHttpStack({}), { algorithm: 'crc32', stallTimeoutMs: 3000, adaptiveChunks: { onChunkSizeChange: (c) => changes.push(c) } }),
          retryDelays: [0, 200, 500, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
          onShouldRetry: (err) => { events.push(`${Date.now() - t0}ms retry: ${err.message.slice(0, 160)}`); return retryOnChecksumMismatch(err) || true; },
          onSuccess: () => resolve(),
          onError: reject,
        });
        upload.start();
      });
      outcome = 'ok';
    } catch (e) { outcome = `failed ${(e as Error).message.slice(0, 200)}`; }
    console.log('THROTTLE', outcome, `${Date.now() - t0}ms`, 'proxy bytes', proxy.bytes(), 'file', data.length, JSON.stringify(changes.map((c) => [c.chunkSize, c.reason])), '\n' + events.join('\n'));
    await proxy.stop();
  }, 120_000);

  it('CLI on the same slow link, stall timeout 3s', async () => {
    const proxy = await throttleProxy(Number(new URL(server.baseUrl).port), 256 * KiB);
    const data = randomBytes(6 * MiB);
    const file = path.join(work, 'f.bin');
    await fs.writeFile(file, data);
    const t0 = Date.now();
    const r = await runCli(['upload', file, '--endpoint', `${proxy.url}/files`, '--state-dir', path.join(work, 'state'), '--json', '--chunk-size', '6MiB', '--stall-timeout', '3s'], { home: work });
    console.log('CLI THROTTLE code', r.code, `${Date.now() - t0}ms`, 'proxy bytes', proxy.bytes(), '\n' + r.events.filter((e) => e.event !== 'progress').map((e) => JSON.stringify(e).slice(0, 300)).join('\n'), r.stderr.slice(-500));
    await proxy.stop();
  }, 120_000);
});
