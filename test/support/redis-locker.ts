import type { Lock } from '@tus/utils';
import { Redis } from 'ioredis';
import { RedisLocker, type RedisLockerOptions } from '../../src/locking/redis-locker.js';

/** A connection as shared mode makes it: no offline queue, so a down Redis fails at once. */
export async function connectLockClient(url: string): Promise<Redis> {
  const client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 50 });
  client.on('error', () => undefined);
  await new Promise((resolve) => client.once('ready', resolve));
  return client;
}

/** One "instance": its own connections to every master and its own locker, with short test timings. */
export async function lockerInstance(urls: readonly string[], options: Partial<RedisLockerOptions> & { prefix: string }) {
  const clients = await Promise.all(urls.map(connectLockClient));
  const locker = new RedisLocker({
    clients,
    acquireTimeoutMs: 10_000,
    releaseDrainMs: 300,
    lockTtlMs: 2_000,
    operationTimeoutMs: 500,
    ...options,
  });
  await locker.whenListening(5_000);
  return {
    locker,
    async close() {
      await locker.close();
      for (const client of clients) client.disconnect();
    },
  };
}

/** Like a request cut by @tus/server: however often it is asked, it unlocks once, `ms` later. */
export function unlockOnceAsked(lock: Lock, ms: number): () => void {
  let asked = false;
  return () => {
    if (asked) return;
    asked = true;
    setTimeout(() => void lock.unlock(), ms);
  };
}

/** Takes `lock` as such a request would; `asked()` says how often it was asked to release. */
export async function holdUntilAsked(lock: Lock, ms: number): Promise<{ asked(): number }> {
  let asked = 0;
  const release = unlockOnceAsked(lock, ms);
  await lock.lock(new AbortController().signal, () => {
    asked += 1;
    release();
  });
  return { asked: () => asked };
}
