import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOOK_EVENTS, type HttpHooksConfig } from '../../src/config/config.js';
import type { HookRequestBody, HookResponseBody } from '../../src/hooks/http/hook-payload.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { bucketContents, newBucket, s3ClientFor, startS3Server, startTesseraOnS3, type S3ServerProcess } from '../support/s3.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, head, patch } from '../support/tus-http.js';

const idOf = (url: string) => url.split('/').pop() as string;

/** A hook receiver whose answer each test sets; it records every request and wakes waiters. */
async function startReceiver() {
  const received: HookRequestBody[] = [];
  const arrivals = new Set<() => void>();
  let answer: (body: HookRequestBody) => Promise<{ status: number; body: HookResponseBody }> = async () => ({ status: 200, body: {} });
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (chunk: Buffer) => {
      raw += chunk.toString();
    });
    req.on('end', () => {
      const body = JSON.parse(raw) as HookRequestBody;
      void answer(body).then((reply) => {
        if (reply.status === 200) received.push(body);
        res.writeHead(reply.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(reply.body));
        for (const arrived of arrivals) arrived();
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`,
    received,
    answerWith(next: typeof answer) {
      answer = next;
    },
    /** Resolves once `done()` holds after a request (bounded). */
    until(done: () => boolean, what: string, timeoutMs = 20_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!done()) return;
          arrivals.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          arrivals.delete(check);
          reject(new Error(`receiver: ${what} did not happen within ${timeoutMs} ms`));
        }, timeoutMs);
        arrivals.add(check);
        check();
      });
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const hooksConfig = (url: string, overrides: Partial<HttpHooksConfig> = {}): HttpHooksConfig => ({
  url,
  events: new Set(HOOK_EVENTS),
  forwardHeaders: [],
  timeoutMs: 2000,
  retries: 0,
  backoffMs: 50,
  progressIntervalMs: 1000,
  retryForMs: 60_000,
  ...overrides,
});

/**
 * Issue #15: HTTP hooks with several instances. Two instances share Redis and the data
 * directory (the shared mode); an id pre-create chose is created by one POST only, whichever
 * instance each went to; every recorded notification is delivered by one instance, once. On
 * S3 the outbox lives in the bucket, so an instance that is gone for good loses none.
 */
describe('HTTP hooks across instances', () => {
  let redis: RedisProcess;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let dataDir: string;
  let instances: RunningTessera[];

  beforeAll(async () => {
    redis = await startRedis();
    receiver = await startReceiver();
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-hooks-shared-'));
    const config = {
      dataDir,
      redis: { url: redis.url, lockUrls: [redis.url], prefix: `hooks-${Date.now()}:` },
      hooksHttp: hooksConfig(receiver.url),
    };
    instances = [await startTessera(config), await startTessera(config)];
  });
  afterAll(async () => {
    for (const instance of instances ?? []) await instance.stop();
    await receiver?.stop();
    await redis?.stop();
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('two POSTs given the same id by pre-create, one on each instance, at the same moment: one creates it, the other is refused, the upload is whole', async () => {
    for (let round = 0; round < 5; round++) {
      const chosen = `shared-${round}-${randomBytes(4).toString('hex')}`;
      // Both pre-creates are held until both arrived: the two POSTs really overlap.
      let arrived = 0;
      let releaseBoth!: () => void;
      const both = new Promise<void>((resolve) => (releaseBoth = resolve));
      receiver.answerWith(async (body) => {
        if (body.Type !== 'pre-create') return { status: 200, body: {} };
        arrived += 1;
        if (arrived === 2) releaseBoth();
        await both;
        return { status: 200, body: { ChangeFileInfo: { ID: chosen, MetaData: { by: body.Event.HTTPRequest.Header['X-Instance']?.[0] ?? '' } } } };
      });
      const results = await Promise.all(instances.map((instance, i) => create(instance.endpoint, { length: 5, headers: { 'X-Instance': String(i) } })));
      const statuses = results.map((r) => r.res.status).sort();
      expect(statuses, `round ${round}`).toEqual([201, 500]);
      const loser = results.find((r) => r.res.status === 500);
      expect(await loser?.res.text()).toBe('The pre-create hook chose the id of an existing upload\n');
      const winner = results.find((r) => r.res.status === 201);
      expect(idOf(winner?.url ?? '')).toBe(chosen);
      expect((await patch(winner?.url ?? '', 0, Buffer.from('hello'))).status).toBe(204);
      const status = await head(winner?.url ?? '');
      expect(status.headers.get('upload-offset')).toBe('5');
      expect(status.headers.get('tessera-upload-status')).toBe('done');
    }
    receiver.answerWith(async () => ({ status: 200, body: {} }));
  });

  it('notifications recorded by both instances while the receiver is down are each delivered once, by one instance, when it is back', async () => {
    const refused = new Map<string, number>();
    receiver.answerWith(async (body) => {
      if (body.Type !== 'post-finish') return { status: 200, body: {} };
      refused.set(body.Tessera.EventId, (refused.get(body.Tessera.EventId) ?? 0) + 1);
      return { status: 503, body: {} };
    });
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const instance = instances[i % 2] as RunningTessera;
      const { url } = await create(instance.endpoint, { length: 100 });
      expect((await patch(url, 0, randomBytes(100))).status).toBe(204);
      ids.push(idOf(url));
    }
    // Each one tried (and refused) at least once before the receiver comes back.
    await receiver.until(() => ids.every((id) => [...refused.keys()].some((key) => key.startsWith(`post-finish:${id}:`))), 'a first try of every post-finish');
    receiver.answerWith(async () => ({ status: 200, body: {} }));
    const delivered = () => receiver.received.filter((r) => r.Type === 'post-finish' && ids.includes(r.Event.Upload.ID));
    await receiver.until(() => delivered().length >= ids.length, 'every post-finish delivered', 60_000);
    // Once the shared outbox is empty no instance can send any of them again (each try re-reads its record under the record's lock).
    const outbox = path.join(dataDir, '.tessera-hooks', 'outbox');
    await expect.poll(async () => (await fs.readdir(outbox)).filter((name) => name.endsWith('.json')), { timeout: 20_000 }).toEqual([]);
    expect(delivered().map((r) => r.Event.Upload.ID).sort()).toEqual([...ids].sort());
  });
});

describe('HTTP hooks on S3: the outbox is in the bucket', () => {
  let s3: S3ServerProcess;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  beforeAll(async () => {
    s3 = await startS3Server();
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.stop();
    await s3?.stop();
  });

  it('a post-finish recorded by an instance that is gone for good (its disk too) is delivered by another instance', async () => {
    const client = s3ClientFor(s3);
    const bucket = await newBucket(client, 'hook-outbox');
    receiver.answerWith(async (body) => (body.Type === 'post-finish' ? { status: 503, body: {} } : { status: 200, body: {} }));
    const first = await startTesseraOnS3(s3, bucket, { hooksHttp: hooksConfig(receiver.url, { events: new Set(['post-finish'] as const) }) });
    const { url } = await create(first.endpoint, { length: 10 });
    expect((await patch(url, 0, randomBytes(10))).status).toBe(204);
    // Recorded in the bucket, not on the instance's disk.
    const records = async () => (await client.listObjectsV2({ Bucket: bucket, Prefix: '.tessera-hooks/outbox/' })).Contents ?? [];
    expect((await records()).map((o) => o.Key)).toEqual([expect.stringMatching(new RegExp(`^\\.tessera-hooks/outbox/post-finish%3A${idOf(url)}%3A10%3Anone\\.json$`))]);
    expect(await fs.readdir(path.join(first.dataDir, '.tessera-hooks', 'outbox')).catch(() => [])).toEqual([]);
    await first.stop(); // its data directory is removed with it

    receiver.answerWith(async () => ({ status: 200, body: {} }));
    const second = await startTesseraOnS3(s3, bucket, { hooksHttp: hooksConfig(receiver.url, { events: new Set(['post-finish'] as const) }) });
    try {
      await receiver.until(() => receiver.received.some((r) => r.Type === 'post-finish' && r.Event.Upload.ID === idOf(url)), 'the post-finish, from the second instance');
      await expect.poll(records, { timeout: 10_000 }).toEqual([]);
      expect((await bucketContents(client, bucket)).objects).toEqual([idOf(url), `${idOf(url)}.info`]);
    } finally {
      await second.stop();
    }
  });
});
