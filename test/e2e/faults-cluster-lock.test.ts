import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalCluster, type LocalCluster } from '../../tools/cluster/local-cluster.js';
import { digestOf } from '../support/bytes.js';
import { storedBytes, storedSize } from '../support/fault-files.js';
import { controlledPatch } from '../support/fault-http.js';
import { waitFor } from '../support/fault-wait.js';
import { create, head, patch, randomData } from '../support/tus-http.js';

/**
 * An instance dies (SIGKILL) while it holds an upload's lock in Redis: nobody can ask it to
 * let go, so the lock lives until its TTL runs out. Another instance must then take it and
 * go on — not fail, not hang — and nothing stays locked.
 */

const MiB = 1024 * 1024;
let cluster: LocalCluster;
let redis: Redis;

beforeAll(async () => {
  cluster = await startLocalCluster({ instances: 2 });
  redis = new Redis(cluster.redis.url);
}, 120_000);
afterAll(async () => {
  redis?.disconnect();
  await cluster?.stop();
});

const via = (url: string, n: number) => `${cluster.instances[n]?.baseUrl}${new URL(url).pathname}`;

describe('an instance killed while holding a lock', () => {
  it('another instance proceeds once the lock TTL has run out; the lock is gone afterwards', async () => {
    const source = randomData(4 * MiB);
    const { url } = await create(cluster.endpoint, { length: source.length });
    const id = new URL(url).pathname.split('/').pop() as string;
    const lockKey = `tessera:lock:${id}`;
    const holder = cluster.instances[0];
    if (!holder) throw new Error('no first instance');

    const cut = controlledPatch(via(url, 0), 0, source.length);
    await cut.send(source.subarray(0, MiB));
    await waitFor('1 MiB stored', async () => ((await storedSize(cluster.dataDir, url)) >= MiB ? true : undefined));
    expect(await redis.pttl(lockKey)).toBeGreaterThan(0);

    await holder.kill('SIGKILL');
    await cut.answer;
    // The dead instance's key is still there: only its TTL can free it.
    expect(await redis.exists(lockKey)).toBe(1);

    // HEAD through the other instance waits for the lock (the acquire timeout outlasts
    // the TTL) and then answers with what is stored.
    const look = await head(via(url, 1));
    expect(look.status).toBe(200);
    const offset = Number(look.headers.get('upload-offset'));
    expect(offset).toBe(await storedSize(cluster.dataDir, url));
    expect(offset).toBeGreaterThanOrEqual(MiB);

    const resumed = await patch(via(url, 1), offset, source.subarray(offset));
    expect(resumed.status).toBe(204);
    expect(digestOf(await storedBytes(cluster.dataDir, url))).toBe(digestOf(source));
    expect(await redis.keys('tessera:lock:*')).toEqual([]);
  }, 90_000);
});
