import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { describeLockerContract } from '../support/locker-contract.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import type { RedisLocker } from '../../src/locking/redis-locker.js';
import { holdUntilAsked, lockerInstance, unlockOnceAsked } from '../support/redis-locker.js';

const instance = lockerInstance;

const never = new AbortController().signal;
const noop = () => undefined;

let servers: RedisProcess[] = [];
beforeAll(async () => {
  servers = await Promise.all([startRedis(), startRedis(), startRedis()]);
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
});
const one = () => [servers[0]?.url ?? ''];
const three = () => servers.map((s) => s.url);

describeLockerContract('RedisLocker, one Redis', async ({ acquireTimeoutMs }) =>
  instance(one(), { prefix: `c1-${randomUUID()}:`, acquireTimeoutMs }),
);

describeLockerContract('RedisLocker, quorum of three', async ({ acquireTimeoutMs }) =>
  instance(three(), { prefix: `c3-${randomUUID()}:`, acquireTimeoutMs }),
);

describe('RedisLocker across instances', () => {
  const open: { close(): Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((i) => i.close()));
  });
  const pair = async (urls: readonly string[]) => {
    const prefix = `x-${randomUUID()}:`;
    const a = await instance(urls, { prefix });
    const b = await instance(urls, { prefix });
    open.push(a, b);
    return [a.locker, b.locker] as const;
  };

  for (const [name, urls] of [
    ['one Redis', one],
    ['three Redis', three],
  ] as const) {
    it(`excludes and asks the holder on the other instance to release (${name})`, async () => {
      const [a, b] = await pair(urls());
      const holder = a.newLock('upload');
      const held = await holdUntilAsked(holder, 50);

      let granted = false;
      const waiter = b.newLock('upload');
      const done = waiter.lock(never, noop).then(() => {
        granted = true;
      });
      await expect.poll(() => held.asked(), { timeout: 5_000, interval: 10 }).toBeGreaterThanOrEqual(1);
      await done;
      expect(granted).toBe(true);
      expect(a.heldCount).toBe(0);
      expect(b.heldCount).toBe(1);

      // And back again: the first instance now waits for the second.
      const again = track(a.newLock('upload'));
      await sleep(100);
      expect(again.settled()).toBe(false);
      await waiter.unlock();
      await again.done;
      await again.lock.unlock();
    });
  }

  it('wakes a waiter on the other instance by the "released" message, not by its backoff', async () => {
    const prefix = `w-${randomUUID()}:`;
    const a = await instance(three(), { prefix });
    // Its fallback re-check comes only after its acquire timeout: the message must do it.
    const b = await instance(three(), { prefix, acquireTimeoutMs: 3_000, retryMinMs: 60_000, retryMaxMs: 60_000 });
    open.push(a, b);
    const holder = a.locker.newLock('wake');
    await holder.lock(never, unlockOnceAsked(holder, 50));
    const waiter = b.locker.newLock('wake');
    await waiter.lock(never, noop);
    await waiter.unlock();
  });

  it("gives the lock to a waiting instance before the holder's own next waiter (no starvation)", async () => {
    const prefix = `f-${randomUUID()}:`;
    // A long grace makes the order certain here; the default is short.
    const a = await instance(one(), { prefix, handoverGraceMs: 1_000 });
    const b = await instance(one(), { prefix });
    open.push(a, b);
    const holder = a.locker.newLock('fair');
    await holder.lock(never, unlockOnceAsked(holder, 50));
    const order: string[] = [];
    const local = a.locker.newLock('fair');
    const localDone = local.lock(never, noop).then(() => void order.push('same instance'));
    await sleep(20);
    const remote = b.locker.newLock('fair');
    await remote.lock(never, noop);
    order.push('other instance');
    await sleep(50);
    expect(order).toEqual(['other instance']);
    await remote.unlock();
    await localDone;
    expect(order).toEqual(['other instance', 'same instance']);
    await local.unlock();
  });

  it('never lets two instances hold one id at the same time', async () => {
    const [a, b] = await pair(three());
    let inside = 0;
    let overlaps = 0;
    let entries = 0;
    const worker = async (locker: RedisLocker) => {
      for (let i = 0; i < 15; i += 1) {
        const lock = locker.newLock('shared');
        await lock.lock(never, noop);
        inside += 1;
        entries += 1;
        if (inside > 1) overlaps += 1;
        await sleep(2);
        inside -= 1;
        await lock.unlock();
      }
    };
    await Promise.all([worker(a), worker(b), worker(a), worker(b)]);
    expect(entries).toBe(60);
    expect(overlaps).toBe(0);
  });

  it('times out a waiter with 423 while the other instance keeps holding, and counts it', async () => {
    const prefix = `t-${randomUUID()}:`;
    let timeouts = 0;
    const waits: number[] = [];
    const a = await instance(one(), { prefix });
    const b = await instance(one(), { prefix, acquireTimeoutMs: 300, onTimeout: () => void (timeouts += 1), onWait: (ms) => void waits.push(ms) });
    open.push(a, b);
    const holder = a.locker.newLock('busy');
    await holder.lock(never, noop);
    await expect(b.locker.newLock('busy').lock(never, noop)).rejects.toMatchObject({ status_code: 423, code: 'ERR_LOCK_TIMEOUT' });
    expect(timeouts).toBe(1);
    expect(waits).toEqual([]);
    await holder.unlock();
    const lock = b.locker.newLock('busy');
    await lock.lock(never, noop);
    expect(waits).toHaveLength(1);
    await lock.unlock();
  });
});

describe('RedisLocker shutdown', () => {
  it('reports held locks, becomes idle when they are released, and close() frees the keys', async () => {
    const prefix = `s-${randomUUID()}:`;
    const a = await instance(one(), { prefix });
    const b = await instance(one(), { prefix });
    try {
      expect(await a.locker.whenIdle(10)).toBe(true);
      const x = a.locker.newLock('x');
      const y = a.locker.newLock('y');
      await x.lock(never, noop);
      await y.lock(never, noop);
      expect(a.locker.heldCount).toBe(2);
      expect(await a.locker.whenIdle(50)).toBe(false);
      const idle = a.locker.whenIdle(5_000);
      await x.unlock();
      expect(a.locker.heldCount).toBe(1);

      // close() gives the key back at once (another instance gets it without waiting a TTL)...
      const other = track(b.locker.newLock('y'));
      await a.locker.close();
      await other.done;
      expect(other.error()).toBeUndefined();
      // ...and the request that still held it unlocks later without an error.
      await y.unlock();
      expect(await idle).toBe(true);
      await expect(a.locker.newLock('z').lock(never, noop)).rejects.toMatchObject({ status_code: 503 });
      await other.lock.unlock();
    } finally {
      await a.close();
      await b.close();
    }
  });
});

function track(lock: ReturnType<RedisLocker['newLock']>) {
  let settled = false;
  let error: unknown;
  const done = lock.lock(never, noop).then(
    () => {
      settled = true;
    },
    (e: unknown) => {
      settled = true;
      error = e;
    },
  );
  return { lock, done, settled: () => settled, error: () => error };
}

