import type { Config, RedisConfig } from '../config/config.js';
import type { Logger } from '../logging/logger.js';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { RedisLocker } from '../locking/redis-locker.js';
import { connectRedis } from '../redis/redis-clients.js';
import path from 'node:path';
import { FileUploadStateStore } from '../tus/state/file-upload-state-store.js';
import { RedisUploadStateStore } from '../redis/redis-upload-state-store.js';
import type { Coordination } from './coordination.js';

/** Many instances: locks and rate counters in Redis (REDIS_URL); upload info and state beside the data. */
export function redisCoordination(config: Config, redis: RedisConfig, log: Logger): Coordination {
  const clients = connectRedis(redis, log);
  const locker = new RedisLocker({
    clients: clients.lockClients,
    prefix: redis.prefix,
    acquireTimeoutMs: config.lockTimeoutMs,
    // Must equal @tus/server's lockDrainTimeout: the locker's safety margin is computed from it.
    releaseDrainMs: config.lockDrainTimeoutMs,
    onDanger: (id, danger) => log.warn({ uploadId: id, danger }, 'upload lock cannot be extended; cutting its request'),
  });
  return {
    mode: 'redis',
    locker,
    // Beside the data on the shared volume: a Redis that restarts empty loses locks, rate
    // counters and nothing else. S3 instances share no volume; their records stay in Redis.
    state: config.s3
      ? new RedisUploadStateStore(clients.main, redis.prefix)
      : new FileUploadStateStore({ directory: path.join(config.dataDir, '.tessera-state'), soleWriter: false }),
    rateLimiter: (points) =>
      new RateLimiterRedis({ storeClient: clients.main, keyPrefix: `${redis.prefix}rate`, points, duration: 60 }),
    async connected(timeoutMs) {
      const ready = Promise.all(
        [clients.main, ...clients.lockClients].map((c) =>
          c.status === 'ready' ? undefined : new Promise((resolve) => c.once('ready', resolve)),
        ),
      );
      await Promise.race([ready, new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
      await locker.whenListening(timeoutMs);
    },
    checkReady: () => clients.ping(),
    async close() {
      await locker.close();
      await clients.close();
    },
  };
}
