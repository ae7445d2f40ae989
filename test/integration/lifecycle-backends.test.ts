import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { S3 } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FinishedUpload } from '../../src/tus/completion/tessera-events.js';
import { final, partial, sha256Hex } from '../support/concat.js';
import { rawRequest } from '../support/raw-http.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { newBucket, s3ClientFor, startS3Server, startTesseraOnS3, type S3ServerProcess } from '../support/s3.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, head, patch, randomData, TUS } from '../support/tus-http.js';

/**
 * The lifecycle and request-resolution guarantees of issue #14 on every backend: the file store
 * in shared mode (two instances, Redis, one data dir) and S3 (a real S3-compatible server
 * process), beside the embedded file store of lifecycle.test.ts. Assertions go through HTTP
 * only, so they mean the same on each.
 */
const MiB = 1024 * 1024;

/** A PATCH whose body is sent chunked (no Content-Length), in two writes. */
function chunkedPatch(url: string, offset: number, body: Buffer, split: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: 'PATCH', headers: { ...TUS, 'Upload-Offset': String(offset), 'Content-Type': 'application/offset+octet-stream' } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.write(body.subarray(0, split));
    req.end(body.subarray(split));
  });
}

interface Backend {
  readonly name: string;
  /** Two servers on the same storage (the same one twice when there is only one). */
  start(): Promise<[RunningTessera, RunningTessera]>;
  stop(): Promise<void>;
}

let redis: RedisProcess;
let s3: S3ServerProcess;
let client: S3;

const backends: Backend[] = [
  {
    name: 'file store, shared mode (Redis, two instances)',
    async start() {
      const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-shared-'));
      const config = { dataDir, redis: { url: redis.url, lockUrls: [redis.url], prefix: `lifecycle-${Date.now()}:` } };
      return [await startTessera(config), await startTessera(config)];
    },
    stop: async () => undefined,
  },
  {
    name: 'S3 (embedded)',
    async start() {
      const one = await startTesseraOnS3(s3, await newBucket(client, 'lifecycle'));
      return [one, one];
    },
    stop: async () => undefined,
  },
];

beforeAll(async () => {
  [redis, s3] = await Promise.all([startRedis(), startS3Server()]);
  client = s3ClientFor(s3);
});
afterAll(async () => {
  await Promise.all([redis?.stop(), s3?.stop()]);
});

describe.each(backends)('$name', (backend) => {
  let a: RunningTessera;
  let b: RunningTessera;
  const ready: string[] = [];
  const on = (server: RunningTessera, url: string) => url.replace(new URL(url).origin, server.baseUrl);

  beforeAll(async () => {
    [a, b] = await backend.start();
    for (const server of new Set([a, b])) server.tessera.events.on('file-ready', (u: FinishedUpload) => ready.push(u.id));
  });
  afterAll(async () => {
    for (const server of new Set([a, b])) await server.stop();
    await backend.stop();
  });

  it('a chunked PATCH past Upload-Length answers 413 and keeps none of its bytes; the right bytes then verify', async () => {
    const data = randomData(6 * MiB);
    const { url } = await create(a.endpoint, { length: data.length, metadata: { sha256: sha256Hex(data) } });
    expect((await patch(url, 0, data.subarray(0, MiB))).status).toBe(204);
    const overlong = Buffer.concat([data.subarray(MiB), randomData(MiB)]);
    expect(await chunkedPatch(on(b, url), MiB, overlong, 5 * MiB)).toBe(413);
    const look = await head(url);
    expect(look.headers.get('upload-offset')).toBe(String(MiB));
    expect(look.headers.get('tessera-upload-status')).toBe('receiving');
    expect((await fetch(url)).status).toBe(404);
    expect((await patch(on(b, url), MiB, data.subarray(MiB))).status).toBe(204);
    expect((await head(url)).headers.get('tessera-upload-status')).toBe('done');
    // Buffer.equals: toEqual compares megabytes element by element, for seconds.
    expect(Buffer.from(await (await fetch(on(b, url))).arrayBuffer()).equals(data)).toBe(true);
  });

  it('a wrong whole-file digest fails for good on every instance; the right one is announced once', async () => {
    const data = randomData(2 * MiB + 5);
    const bad = await create(a.endpoint, { length: data.length, metadata: { sha256: '3'.repeat(64) } });
    expect((await patch(on(b, bad.url), 0, data)).status).toBe(460);
    for (const server of [a, b]) {
      expect((await head(on(server, bad.url))).status).toBe(460);
      expect((await fetch(on(server, bad.url))).status).toBe(404);
      expect((await patch(on(server, bad.url), 0, data)).status).toBe(460);
    }
    const good = await create(b.endpoint, { length: data.length, metadata: { sha256: sha256Hex(data) } });
    expect((await patch(on(a, good.url), 0, data)).status).toBe(204);
    expect((await patch(on(b, good.url), data.length, Buffer.alloc(0))).status).toBe(204);
    const id = new URL(good.url).pathname.split('/').pop() as string;
    expect(ready.filter((r) => r === id)).toHaveLength(1);
    expect(ready).not.toContain(new URL(bad.url).pathname.split('/').pop());
  });

  it('an upload a crash left verifying is settled by the recovery pass, and served only then', async () => {
    const data = randomData(MiB + 3);
    const { url } = await create(a.endpoint, { length: data.length, metadata: { sha256: sha256Hex(data) } });
    expect((await patch(url, 0, data)).status).toBe(204);
    const id = new URL(url).pathname.split('/').pop() as string;
    // What kill -9 during verification leaves (see faults-verification-kill.test.ts): every byte
    // stored (S3: the object completed), the record 'verifying', nothing announced.
    await a.tessera.state.update(id, (s) => (s?.kind === 'single' ? { kind: 'single', status: 'verifying', ...(s.owner ? { owner: s.owner } : {}) } : s));
    const announcedBefore = ready.filter((r) => r === id).length;
    expect((await fetch(on(b, url))).status).toBe(404);
    expect((await head(on(b, url))).headers.get('tessera-upload-status')).toBe('verifying');
    await a.tessera.recovery.run();
    expect((await head(on(b, url))).headers.get('tessera-upload-status')).toBe('done');
    expect(Buffer.from(await (await fetch(on(b, url))).arrayBuffer()).equals(data)).toBe(true);
    expect(ready.filter((r) => r === id).length - announcedBefore).toBe(1);
  });

  it('a file settled but not announced when the process died is announced once by the recovery pass, and only once', async () => {
    const data = randomData(1000);
    const { url } = await create(a.endpoint, { length: data.length, metadata: { sha256: sha256Hex(data) } });
    expect((await patch(url, 0, data)).status).toBe(204);
    const id = new URL(url).pathname.split('/').pop() as string;
    // What kill -9 between the record's 'done' and the announcement leaves.
    await a.tessera.state.update(id, (s) => (s?.kind === 'single' ? { ...s, notified: false } : s));
    const before = ready.filter((r) => r === id).length;
    await b.tessera.recovery.run();
    await a.tessera.recovery.run();
    expect(ready.filter((r) => r === id).length - before).toBe(1);
  });

  it('the same final POSTed through both instances at once is one final, assembled and announced once', async () => {
    const parts = [randomData(2000), randomData(3000)];
    // Paths: the two instances stand for one origin behind a load balancer.
    const partials = [await partial(a.endpoint, parts[0] as Buffer), await partial(b.endpoint, parts[1] as Buffer)].map((u) => new URL(u).pathname);
    const assembled: string[] = [];
    const count = ({ id }: { id: string }) => assembled.push(id);
    for (const server of new Set([a, b])) server.tessera.events.on('final-assembled', count);
    try {
      const metadata = { sha256: sha256Hex(Buffer.concat(parts)) };
      const [x, y] = await Promise.all([final(a.endpoint, partials, metadata), final(b.endpoint, partials, metadata)]);
      expect([x.res.status, y.res.status]).toEqual([201, 201]);
      expect(new URL(x.url).pathname).toBe(new URL(y.url).pathname);
      const id = new URL(x.url).pathname.split('/').pop() as string;
      expect(assembled).toEqual([id]);
      expect(ready.filter((r) => r === id)).toHaveLength(1);
      expect(Buffer.from(await (await fetch(on(b, x.url))).arrayBuffer()).equals(Buffer.concat(parts))).toBe(true);
    } finally {
      for (const server of new Set([a, b])) server.tessera.events.off('final-assembled', count);
    }
  });

  it('a query ending in another upload acts on the upload the path names', async () => {
    const victim = await create(a.endpoint, { length: 10 });
    const own = await create(a.endpoint, { length: 10 });
    const target = `${new URL(own.url).pathname}?/files/${new URL(victim.url).pathname.split('/').pop()}`;
    const res = await rawRequest(b.baseUrl, 'PATCH', target, { ...TUS, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' }, Buffer.from('0123456789'));
    expect(res.status).toBe(204);
    expect((await head(victim.url)).headers.get('upload-offset')).toBe('0');
    expect((await head(own.url)).headers.get('upload-offset')).toBe('10');
  });
});
