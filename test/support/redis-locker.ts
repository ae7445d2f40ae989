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
