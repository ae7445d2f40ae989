import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HookRequestBody } from '../../src/hooks/http/hook-payload.js';
import { crashTessera } from '../support/cli-server-crash.js';
import { metricValue } from '../support/metrics.js';
import { freePort } from '../support/ports.js';
import { spawnTessera } from '../support/tessera-process.js';
import { startTessera } from '../support/tessera.js';
import { create, patch } from '../support/tus-http.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const idOf = (url: string) => url.split('/').pop() as string;

/** A hook receiver on `port` that answers `status()` and records what it got. */
async function startReceiver(port: number, status: () => number = () => 200) {
  const received: HookRequestBody[] = [];
  let refused = 0;
  const arrivals = new Set<() => void>();
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => {
      raw += chunk.toString();
    });
    req.on('end', () => {
      const code = status();
      if (code === 200) received.push(JSON.parse(raw) as HookRequestBody);
      else refused += 1;
      res.writeHead(code, { 'Content-Type': 'application/json' }).end('{}');
      for (const arrived of arrivals) arrived();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    received,
    /** Requests answered with another status than 200. */
    refused: () => refused,
    /** Resolves once a post-finish for `id` was accepted (bounded). */
    finishOf: (id: string, timeoutMs = 20_000) =>
      new Promise<HookRequestBody>((resolve, reject) => {
        const check = () => {
          const found = received.find((r) => r.Type === 'post-finish' && r.Event.Upload.ID === id);
          if (!found) return;
          arrivals.delete(check);
          clearTimeout(timer);
          resolve(found);
        };
        const timer = setTimeout(() => {
          arrivals.delete(check);
          reject(new Error(`no post-finish for ${id} within ${timeoutMs} ms`));
        }, timeoutMs);
        arrivals.add(check);
        check();
      }),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * Issue #15: post-finish is delivered at least once, durably. It is recorded in the outbox
 * (DATA_DIR/.tessera-hooks/outbox) before the PATCH that finished the file is answered, tried
 * until the receiver answers 2xx, and survives a kill -9: the next start delivers it.
 */
describe('durable post-finish delivery', () => {
  let work: string;
  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-hooks-'));
  });
  afterAll(() => fs.rm(work, { recursive: true, force: true }));

  it('a receiver failing (503) when the file finishes gets it once it answers, exactly once; the PATCH is not held up', async () => {
    const port = await freePort();
    let up = false;
    const receiver = await startReceiver(port, () => (up ? 200 : 503));
    const dataDir = path.join(work, 'down-then-up');
    const server = await startTessera({
      dataDir,
      // Only post-finish: a pre-create hook would refuse every upload while the receiver fails.
      hooksHttp: { url: `http://127.0.0.1:${port}/hooks`, events: new Set(['post-finish'] as const), forwardHeaders: [], timeoutMs: 2000, retries: 0, backoffMs: 100, progressIntervalMs: 1000, retryForMs: 60_000 },
    });
    try {
      const data = randomBytes(1000);
      const { url } = await create(server.endpoint, { length: data.length, metadata: { sha256: sha256(data) } });
      expect((await patch(url, 0, data)).status).toBe(204);
      // Recorded, not delivered yet; tried and refused at least once before the receiver comes up.
      expect((await fs.readdir(path.join(dataDir, '.tessera-hooks', 'outbox'))).filter((n) => n.endsWith('.json'))).toHaveLength(1);
      await expect.poll(() => receiver.refused(), { timeout: 5_000 }).toBeGreaterThan(0);
      up = true;
      const delivered = await receiver.finishOf(idOf(url));
      expect(delivered.Tessera).toMatchObject({ Sha256: sha256(data), EventId: expect.stringMatching(new RegExp(`^post-finish:${idOf(url)}:`)) });
      await expect
        .poll(async () => (await fs.readdir(path.join(dataDir, '.tessera-hooks', 'outbox'))).filter((n) => n.endsWith('.json')).length, { timeout: 5_000 })
        .toBe(0);
      expect(receiver.received.filter((r) => r.Type === 'post-finish' && r.Event.Upload.ID === idOf(url))).toHaveLength(1);
      // Metrics: the failed tries, the one delivery, and (by the next pass) an empty outbox.
      expect(await metricValue(server.baseUrl, 'tessera_hook_errors_total', { hook: 'post-finish' })).toBeGreaterThanOrEqual(1);
      expect(await metricValue(server.baseUrl, 'tessera_hook_delivery_seconds_count', { hook: 'post-finish' })).toBe(1);
      await expect.poll(() => metricValue(server.baseUrl, 'tessera_hook_outbox_depth'), { timeout: 5_000 }).toBe(0);
    } finally {
      await server.stop();
      await receiver.stop();
    }
  });

  it('an outbox that cannot be written fails the PATCH, and loses nothing: the client\'s retry (the empty last PATCH) records and delivers it, once', async () => {
    const port = await freePort();
    const receiver = await startReceiver(port);
    const dataDir = path.join(work, 'unwritable');
    const server = await startTessera({
      dataDir,
      hooksHttp: { url: `http://127.0.0.1:${port}/hooks`, events: new Set(['post-finish'] as const), forwardHeaders: [], timeoutMs: 2000, retries: 0, backoffMs: 100, progressIntervalMs: 1000, retryForMs: 60_000 },
    });
    try {
      // A file where the outbox directory should be: every record write fails (as on a full disk).
      await fs.mkdir(path.join(dataDir, '.tessera-hooks'), { recursive: true });
      await fs.writeFile(path.join(dataDir, '.tessera-hooks', 'outbox'), 'in the way');
      const data = randomBytes(500);
      const { url } = await create(server.endpoint, { length: data.length, metadata: { sha256: sha256(data) } });
      const failed = await patch(url, 0, data);
      expect(failed.status).toBe(500);
      await fs.rm(path.join(dataDir, '.tessera-hooks', 'outbox'));
      // Before: the upload was already marked announced; the retry answered 204 and nothing was ever sent.
      expect((await patch(url, data.length, Buffer.alloc(0))).status).toBe(204);
      const delivered = await receiver.finishOf(idOf(url));
      expect(delivered.Tessera.Sha256).toBe(sha256(data));
      expect((await patch(url, data.length, Buffer.alloc(0))).status).toBe(204);
      await expect.poll(async () => (await fs.readdir(path.join(dataDir, '.tessera-hooks', 'outbox'))).filter((n) => n.endsWith('.json')).length, { timeout: 5_000 }).toBe(0);
      expect(receiver.received.filter((r) => r.Type === 'post-finish' && r.Event.Upload.ID === idOf(url))).toHaveLength(1);
    } finally {
      await server.stop();
      await receiver.stop();
    }
  });

  it('kill -9 after the file finished, with the receiver unreachable: the next start delivers it', async () => {
    const port = await freePort();
    const dataDir = path.join(work, 'killed');
    await fs.mkdir(dataDir);
    const env = { DATA_DIR: dataDir, HOOKS_HTTP_URL: `http://127.0.0.1:${port}/hooks`, HOOKS_ENABLED_EVENTS: 'post-finish', HOOKS_HTTP_BACKOFF: '100ms', HOOKS_HTTP_TIMEOUT: '1s' };
    const first = await spawnTessera(env);
    const data = randomBytes(2000);
    let id: string;
    try {
      const { url } = await create(first.endpoint, { length: data.length, metadata: { sha256: sha256(data) } });
      expect((await patch(url, 0, data)).status).toBe(204);
      id = idOf(url);
    } finally {
      // The server itself, not the tsx wrapper (which would leave it running).
      await crashTessera(first);
    }
    const receiver = await startReceiver(port);
    const second = await spawnTessera(env);
    try {
      const delivered = await receiver.finishOf(id);
      expect(delivered.Event.Upload).toMatchObject({ ID: id, Size: 2000, Offset: 2000 });
      expect(delivered.Tessera.Sha256).toBe(sha256(data));
    } finally {
      await crashTessera(second);
      await receiver.stop();
      await first.cleanup();
      await second.cleanup();
    }
  });
});
