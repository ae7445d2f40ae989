import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import * as tus from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCluster, type LocalCluster } from '../../tools/cluster/local-cluster.js';
import { startRedis } from '../../tools/processes/redis-server.js';
import { digestOf } from '../support/bytes.js';
import { final, partial, sha256Hex } from '../support/concat.js';
import { metricValue } from '../support/metrics.js';
import { create, head, patch, TUS } from '../support/tus-http.js';

const MiB = 1024 * 1024;
let cluster: LocalCluster;
let redisDir: string;

beforeAll(async () => {
  redisDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-redis-'));
  cluster = await startLocalCluster({ instances: 3, redisDir });
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
  await fs.rm(redisDir, { recursive: true, force: true });
});

const idOf = (url: string) => new URL(url).pathname.split('/').pop() as string;
const stored = (url: string) => fs.readFile(path.join(cluster.dataDir, idOf(url)));
const onInstances = async (name: string, labels?: Record<string, string>) =>
  Promise.all(cluster.instances.map((i) => metricValue(i.baseUrl, name, labels)));
const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
/** The same upload URL, addressed to one instance directly instead of the balancer. */
const via = (url: string, n: number) => `${cluster.instances[n]?.baseUrl}${new URL(url).pathname}`;

/** A PATCH that sends `first` bytes, then waits for `release` before sending the rest. */
function slowPatch(url: string, body: Buffer, first: number, release: Promise<unknown>) {
  const target = new URL(url);
  return new Promise<{ status: number; offset: number }>((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: target.port,
      path: target.pathname,
      method: 'PATCH',
      headers: { ...TUS, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream', 'Content-Length': body.length },
    });
    req.on('response', (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, offset: Number(res.headers['upload-offset'] ?? -1) });
    });
    req.on('error', reject);
    req.write(body.subarray(0, first));
    void release.then(() => req.end(body.subarray(first)), () => req.destroy());
  });
}

describe('three instances behind nginx, sharing Redis and storage', () => {
  it('takes tus-js-client parallelUploads: 4 with sha256, spread over every instance', async () => {
    const source = randomBytes(32 * MiB);
    const digest = sha256Hex(source);
    const url = await new Promise<string>((resolve, reject) => {
      const upload = new tus.Upload(source, {
        endpoint: cluster.endpoint,
        parallelUploads: 4,
        chunkSize: 2 * MiB,
        retryDelays: [100, 500, 1000],
        metadata: { filename: 'cluster.bin', sha256: digest },
        onSuccess: () => resolve(upload.url ?? ''),
        onError: reject,
      });
      upload.start();
    });
    const info = await head(url);
    expect(info.headers.get('tessera-sha256')).toBe(digest);
    expect(digestOf(await stored(url))).toBe(digestOf(source));
    const bytes = await onInstances('tessera_bytes_received_total');
    expect(sum(bytes)).toBeGreaterThanOrEqual(source.length);
    expect(bytes.every((b) => b > 0)).toBe(true);
    expect(sum(await onInstances('tessera_assemblies_total', { outcome: 'verified' }))).toBe(1);
    expect(sum(await onInstances('tessera_uploads_finished_total'))).toBe(1);
  });

  it('partials finishing at once on different instances assemble exactly once', async () => {
    const before = sum(await onInstances('tessera_assemblies_total', { outcome: 'verified' }));
    const parts = [0, 1, 2].map(() => randomBytes(3 * MiB));
    const urls = await Promise.all(parts.map((p) => partial(cluster.endpoint, p, false)));
    const f = await final(cluster.endpoint, urls, { sha256: sha256Hex(Buffer.concat(parts)) });
    expect(f.res.status).toBe(201);
    // Each last byte goes to a different instance, all at the same moment.
    const statuses = await Promise.all(urls.map((u, n) => patch(via(u, n), 0, parts[n] as Buffer).then((r) => r.status)));
    expect(statuses).toEqual([204, 204, 204]);
    expect((await head(f.url)).headers.get('tessera-upload-status')).toBe('done');
    expect(sum(await onInstances('tessera_assemblies_total', { outcome: 'verified' }))).toBe(before + 1);
    expect(digestOf(await stored(f.url))).toBe(digestOf(Buffer.concat(parts)));
  });

  it('two instances racing PATCHes on one upload never interleave bytes', async () => {
    const size = 4 * MiB;
    const { url } = await create(cluster.endpoint, { length: size });
    const a = Buffer.alloc(size, 0xaa);
    const b = Buffer.alloc(size, 0xbb);
    let releaseA: (v?: unknown) => void = () => undefined;
    const first = slowPatch(via(url, 0), a, MiB, new Promise((r) => (releaseA = r)));
    await new Promise((r) => setTimeout(r, 300));
    // B on another instance asks A's instance (through Redis) to release; A is cut after the drain.
    const second = patch(via(url, 1), 0, b);
    const [resultA, resultB] = await Promise.all([first, second.then((r) => r.status)]);
    releaseA();
    expect(resultA.status).toBe(204);
    expect(resultA.offset).toBeGreaterThan(0);
    expect(resultA.offset).toBeLessThan(size);
    expect(resultB).toBe(409); // the offset moved under it: it must not write
    const bytes = await stored(url);
    expect(bytes.length).toBe(resultA.offset);
    expect(bytes.every((x) => x === 0xaa)).toBe(true);
    expect(Number((await head(url)).headers.get('upload-offset'))).toBe(resultA.offset);
  });

  it('an instance killed with SIGKILL mid-upload: the client resumes through the balancer and the file verifies', async () => {
    const source = randomBytes(8 * MiB);
    const digest = sha256Hex(source);
    const { url } = await create(cluster.endpoint, { length: source.length, metadata: { sha256: digest } });
    const victim = cluster.instances[2];
    if (!victim) throw new Error('no third instance');
    const cut = slowPatch(via(url, 2), source, 3 * MiB, new Promise(() => undefined)).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 500));
    await victim.kill('SIGKILL');
    await cut;
    // Its lock expires with the TTL; the resumed upload waits for it instead of failing.
    const resumed = await new Promise<string>((resolve, reject) => {
      const upload = new tus.Upload(source, {
        endpoint: cluster.endpoint,
        uploadUrl: url,
        chunkSize: 2 * MiB,
        retryDelays: [500, 1000, 2000, 4000],
        onSuccess: () => resolve(upload.url ?? ''),
        onError: reject,
      });
      upload.start();
    });
    expect(resumed).toBe(url);
    expect((await head(url)).headers.get('tessera-sha256')).toBe(digest);
    expect(digestOf(await stored(url))).toBe(digestOf(source));
    await victim.restart();
  }, 90_000);

  it('Redis stopped: 503 with Retry-After and not ready; restarted: recovers with nothing lost', async () => {
    const data = randomBytes(2 * MiB);
    const { url } = await create(cluster.endpoint, { length: data.length });
    expect((await patch(url, 0, data.subarray(0, MiB))).status).toBe(204);

    await cluster.redis.stop();
    const down = await head(via(url, 0));
    expect(down.status).toBe(503);
    expect(down.headers.get('retry-after')).toBeTruthy();
    expect((await patch(via(url, 1), MiB, data.subarray(MiB))).status).toBe(503);
    expect((await fetch(`${cluster.instances[0]?.baseUrl}/readyz`)).status).toBe(503);

    const again = await startRedis(cluster.redis.port, redisDir);
    try {
      // Every instance reconnects on its own backoff; the balancer may pick any of them.
      const allReady = async () =>
        (await Promise.all(cluster.instances.map((i) => fetch(`${i.baseUrl}/readyz`).then((r) => r.ok)))).every(Boolean);
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline && !(await allReady())) await new Promise((r) => setTimeout(r, 200));
      expect(await allReady()).toBe(true);
      expect(Number((await head(url)).headers.get('upload-offset'))).toBe(MiB);
      expect((await patch(url, MiB, data.subarray(MiB))).status).toBe(204);
      expect(digestOf(await stored(url))).toBe(digestOf(data));
    } finally {
      // The cluster's stop() stops its original handle; stop this one ourselves.
      await again.stop();
    }
  }, 60_000);
});
