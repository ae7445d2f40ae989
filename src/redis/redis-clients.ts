import { Redis } from 'ioredis';
import type { RedisConfig } from '../config/config.js';
import type { Logger } from '../logging/logger.js';

export interface RedisClients {
  /** Upload state and info. */
  readonly main: Redis;
  /** One per independent master, for the lock quorum (the first may be `main`). */
  readonly lockClients: readonly Redis[];
  /** Throws unless every connection answers PING. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Connections for shared mode. No offline queue and one retry per command: while Redis is
 * down, commands fail at once (→ 503) instead of queueing; ioredis keeps reconnecting in the
 * background, so service resumes by itself when Redis is back.
 */
export function connectRedis(config: RedisConfig, log: Logger): RedisClients {
  const open = (url: string) => {
    const client = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2_000,
      retryStrategy: (attempt) => Math.min(100 * attempt, 1_000),
    });
    let down = false;
    client.on('error', (err: Error) => {
      if (!down) log.warn({ err: err.message, redis: redactUrl(url) }, 'redis connection error');
      down = true;
    });
    client.on('ready', () => {
      if (down) log.info({ redis: redactUrl(url) }, 'redis connection restored');
      down = false;
    });
    return client;
  };
  const main = open(config.url);
  const lockClients = config.lockUrls.map((url) => (url === config.url ? main : open(url)));
  const all = [...new Set([main, ...lockClients])];
  return {
    main,
    lockClients,
    async ping() {
      await Promise.all(all.map((c) => c.ping()));
    },
    async close() {
      await Promise.all(all.map((c) => c.quit().catch(() => c.disconnect())));
    },
  };
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
