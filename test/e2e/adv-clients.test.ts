import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { Readable } from 'node:stream';
import { DefaultHttpStack, Upload, type UploadOptions } from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retryOnChecksumMismatch, withAdaptiveChunks, withChecksum, type ChunkSizeChange } from '../../src/client/index.js';
import { startHostileProxy, type HostileProxy } from '../support/hostile-proxy.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';

const MiB = 1024 * 1024;
const KiB = 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const delays = [0, 200, 500, 1000, 1000, 1000, 1000, 1000, 1000, 1000];

describe('adv', () => {
  let server: RunningTessera;
  let proxy: HostileProxy;
  const finishes: string[] = [];
  let finishDelay = 0;
  beforeAll(async () => {
    server = await startTessera(
      { lockDrainTimeoutMs: 200 },
      {
        hooks: {
          onUploadFinish: async (_req: unknown, upload: { id: string }) => {
            finishes.push(upload.id);
            if (finishDelay) await new Promise((r) => setTimeout(r, finishDelay));
            return {};
          },
        } as never,
      },
    );
    const { port } = new URL(server.baseUrl);
    proxy = await startHostileProxy({ host: '127.0.0.1', port: Number(port) });
  });
  afterAll(async () => {
    await proxy.stop();
    await server.stop();
  });
  const endpoint = () => `${proxy.url}/files`;
  const stored = async (url: string) => sha256(await fs.readFile(path.join(server.dataDir, decodeURIComponent(new URL(url).pathname.split('/').pop() ?? ''))));

  function run(input: unknown, opts: Partial<UploadOptions>, log: string[] = []): Promise<{ url: string; upload: Upload }> {
    return new Promise((resolve, reject) => {
      const upload = new Upload(input as Buffer, {
        endpoint: endpoint(),
        retryDelays: delays,
        onShouldRetry: (err) => retryOnChecksumMismatch(err),
        onSuccess: () => resolve({ url: upload.url ?? '', upload }),
        onError: (e) => {
          log.push(`error: ${e.message.slice(0, 400)}`);
          reject(e);
        },
        ...opts,
      });
      upload.start();
    });
  }

  it('deferred length stream through resets', async () => {
    const data = randomBytes(3 * MiB);
    proxy.setFault({ kind: 'reset-every', bytes: 700 * KiB });
    const changes: ChunkSizeChange[] = [];
    const log: string[] = [];
    const stack = withChecksum(new DefaultHttpStack({}), { algorithm: 'crc32', stallTimeoutMs: 2000, adaptiveChunks: { onChunkSizeChange: (c) => changes.push(c) } });
    let outcome: string;
    try {
      const { url } = await run(Readable.from([data]), { chunkSize: 1 * MiB, uploadLengthDeferred: true, httpStack: stack }, log);
      outcome = `ok ${(await stored(url)) === sha256(data)}`;
    } catch (e) {
      outcome = `failed: ${(e as Error).message.slice(0, 600)}`;
    }
    proxy.setFault({ kind: 'none' });
    console.log('DEFERRED', outcome, JSON.stringify(changes));
  });

  it('deferred length stream, no faults at all beyond one reset (cut chunk declares length)', async () => {
    // Force adaptive limit first by a failing PATCH, then a healthy link.
    const data = randomBytes(1.5 * MiB);
    const changes: ChunkSizeChange[] = [];
    let patches = 0;
    const base = new DefaultHttpStack({});
    const flaky = {
      getName: () => 'flaky',
      createRequest(method: string, url: string) {
        const req = base.createRequest(method, url);
        if (method === 'PATCH' && patches++ === 0) {
          let handler: (n: number) => void = () => {};
          req.setProgressHandler = (h) => void (handler = h);
          req.send = async () => {
            handler(64 * 1024);
            throw Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
          };
        }
        return req;
      },
    };
    const stack = withAdaptiveChunks(flaky as never, { onChunkSizeChange: (c) => changes.push(c) });
    let outcome: string;
    const sent: string[] = [];
    try {
      const { url } = await run(Readable.from([data]), {
        endpoint: `${server.endpoint}`,
        chunkSize: 1 * MiB,
        uploadLengthDeferred: true,
        httpStack: stack,
        onBeforeRequest: (req) => {
          if (req.getMethod() === 'PATCH') sent.push(`PATCH off=${req.getHeader('Upload-Offset')} len=${req.getHeader('Upload-Length') ?? '-'}`);
        },
        onAfterResponse: (req, res) => {
          if (req.getMethod() === 'PATCH') sent.push(`  -> ${res.getStatus()} off=${res.getHeader('Upload-Offset')} ${res.getBody().slice(0, 200)}`);
        },
      });
      outcome = `ok ${(await stored(url)) === sha256(data)}`;
    } catch (e) {
      outcome = `failed: ${(e as Error).message.slice(0, 600)}`;
    }
    console.log('DEFERRED2', outcome, JSON.stringify(changes), '\n' + sent.join('\n'));
  });

  it('ECONNREFUSED halves chunk size', async () => {
    const changes: ChunkSizeChange[] = [];
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    const stack = withAdaptiveChunks(new DefaultHttpStack({}), { onChunkSizeChange: (c) => changes.push(c) });
    const req = stack.createRequest('PATCH', `http://127.0.0.1:${port}/files/x`);
    let err = '';
    await req.send(randomBytes(4 * MiB)).catch((e: Error) => (err = e.message));
    console.log('REFUSED', err, JSON.stringify(changes));
  });

  it('slow onUploadFinish hook (3 s) vs stall timeout 1 s', async () => {
    finishDelay = 3000;
    finishes.length = 0;
    const data = randomBytes(2 * MiB);
    const events: string[] = [];
    const changes: ChunkSizeChange[] = [];
    const t0 = Date.now();
    let outcome: string;
    try {
      const { url } = await run(data, {
        endpoint: server.endpoint,
        chunkSize: 1 * MiB,
        httpStack: withChecksum(new DefaultHttpStack({}), { algorithm: 'crc32', stallTimeoutMs: 1000, adaptiveChunks: { onChunkSizeChange: (c) => changes.push(c) } }),
        onBeforeRequest: (req) => void events.push(`${Date.now() - t0}ms ${req.getMethod()} off=${req.getHeader('Upload-Offset') ?? ''}`),
        onAfterResponse: (req, res) => void events.push(`${Date.now() - t0}ms  ${req.getMethod()} -> ${res.getStatus()} off=${res.getHeader('Upload-Offset') ?? ''}`),
        onShouldRetry: (err) => {
          events.push(`${Date.now() - t0}ms  retry? ${err.message.slice(0, 200)}`);
          return true;
        },
      });
      outcome = `ok ${(await stored(url)) === sha256(data)}`;
    } catch (e) {
      outcome = `failed: ${(e as Error).message.slice(0, 300)}`;
    }
    await new Promise((r) => setTimeout(r, 3500));
    finishDelay = 0;
    console.log('SLOWHOOK', outcome, 'finish hook calls', finishes.length, JSON.stringify(changes), '\n' + events.join('\n'));
  });

  it('abort during PATCH leaves no timers and does not shrink', async () => {
    proxy.setFault({ kind: 'stall-after', bytes: 512 * KiB });
    const changes: ChunkSizeChange[] = [];
    const data = randomBytes(4 * MiB);
    const before = (process as unknown as { getActiveResourcesInfo: () => string[] }).getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
    let upload!: Upload;
    const started = new Promise<void>((resolve) => {
      upload = new Upload(data, {
        endpoint: endpoint(),
        chunkSize: 2 * MiB,
        retryDelays: [0],
        httpStack: withChecksum(new DefaultHttpStack({}), { algorithm: 'crc32', stallTimeoutMs: 60_000, adaptiveChunks: { onChunkSizeChange: (c) => changes.push(c) } }),
        onProgress: (sent) => {
          if (sent > 0) resolve();
        },
        onError: () => {},
      });
      upload.start();
    });
    await started;
    await new Promise((r) => setTimeout(r, 300));
    await upload.abort();
    await new Promise((r) => setTimeout(r, 300));
    const after = (process as unknown as { getActiveResourcesInfo: () => string[] }).getActiveResourcesInfo().filter((x) => x === 'Timeout').length;
    proxy.setFault({ kind: 'none' });
    console.log('ABORT timers before', before, 'after', after, 'changes', JSON.stringify(changes));
  });
});
