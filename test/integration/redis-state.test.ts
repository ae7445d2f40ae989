import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisUploadStateStore } from '../../src/redis/redis-upload-state-store.js';
import { TusError } from '../../src/errors.js';
import { startRedis, type RedisProcess } from '../support/redis.js';

let redis: RedisProcess;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
  await new Promise((resolve) => client.once('ready', resolve));
});
afterAll(async () => {
  client.disconnect();
  await redis.stop();
});

let n = 0;
const prefix = () => `t${++n}:`;

describe('RedisUploadStateStore', () => {
  it('keeps every concurrent update (no lost writes across connections)', async () => {
    const p = prefix();
    const stores = [new RedisUploadStateStore(client, p), new RedisUploadStateStore(new Redis(redis.url), p)];
    await stores[0]?.update('counter', () => ({ kind: 'single', status: 'receiving', error: '' }));
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        stores[i % 2]?.update('counter', (s) => (s?.kind === 'single' ? { ...s, error: `${s.error ?? ''}${i},` } : s)),
      ),
    );
    const state = await stores[0]?.get('counter');
    expect(state?.error?.split(',').filter(Boolean).sort()).toEqual(Array.from({ length: 20 }, (_, i) => String(i)).sort());
  });

  it('keeps every link of finals to a partial, made concurrently through two connections', async () => {
    const p = prefix();
    const stores = [new RedisUploadStateStore(client, p), new RedisUploadStateStore(new Redis(redis.url), p)];
    await stores[0]?.update('part', () => ({ kind: 'partial', finals: ['older'] }));
    await Promise.all(Array.from({ length: 20 }, (_, i) => stores[i % 2]?.link('part', `f${i}`)));
    expect((await stores[1]?.linkedFinals('part'))?.sort()).toEqual(['older', ...Array.from({ length: 20 }, (_, i) => `f${i}`)].sort());
    await stores[0]?.delete('part');
    expect(await stores[1]?.linkedFinals('part')).toEqual([]);
  });

  it('claims a key once: the first value wins until it is released by its owner', async () => {
    const store = new RedisUploadStateStore(client, prefix());
    const winners = await Promise.all(['a', 'b', 'c'].map((v) => store.claim('req', v)));
    expect(new Set(winners).size).toBe(1);
    const winner = winners[0] as string;
    await store.release('req', winner === 'a' ? 'b' : 'a'); // not the owner: no effect
    expect(await store.claim('req', 'z')).toBe(winner);
    await store.release('req', winner);
    expect(await store.claim('req', 'z')).toBe('z');
  });

  it('deletes, and namespaces every key under its prefix', async () => {
    const p = prefix();
    const store = new RedisUploadStateStore(client, p);
    await store.update('x', () => ({ kind: 'single', status: 'done', sha256: 'ab' }));
    expect(await client.keys(`${p}*`)).toEqual([`${p}state:x`]);
    await store.delete('x');
    expect(await store.get('x')).toBeUndefined();
  });
});

describe('when Redis is down', () => {
  it('fails fast with a 503 TusError carrying Retry-After, then recovers', async () => {
    const own = await startRedis();
    const conn = new Redis(own.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
    await new Promise((resolve) => conn.once('ready', resolve));
    const store = new RedisUploadStateStore(conn, prefix());
    await store.update('y', () => ({ kind: 'partial', finals: [] }));
    await own.kill();
    const error = await store.get('y').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TusError);
    expect((error as TusError).status_code).toBe(503);
    expect((error as TusError).headers['Retry-After']).toBeDefined();

    const back = await startRedis(own.port);
    await new Promise((resolve) => (conn.status === 'ready' ? resolve(undefined) : conn.once('ready', resolve)));
    await store.update('y', () => ({ kind: 'partial', finals: ['again'] }));
    expect(await store.get('y')).toEqual({ kind: 'partial', finals: ['again'] });
    conn.disconnect();
    await back.stop();
  });
});
