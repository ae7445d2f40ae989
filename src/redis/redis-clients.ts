import { Redis, type RedisOptions } from 'ioredis';
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
  const options = {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (attempt: number) => Math.min(100 * attempt, 1_000),
  };
  const open = (url: string, sentinel?: RedisConfig['sentinel']) => {
    const client = sentinel ? viaSentinel(url, sentinel, options) : new Redis(url, options);
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
  const main = open(config.url, config.sentinel);
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

/**
 * A connection to the master the sentinels name, following it through failovers: on a switch
 * the connection drops (commands fail fast: 503), asks the sentinels again and reconnects to
 * the promoted replica. Credentials and database come from `url` (REDIS_URL), when given.
 */
function viaSentinel(url: string, sentinel: NonNullable<RedisConfig['sentinel']>, options: RedisOptions): Redis {
  const parsed = new URL(url);
  const db = Number(parsed.pathname.slice(1) || '0');
  return new Redis({
    ...options,
    sentinels: sentinel.nodes.map(({ host, port }) => ({ host, port })),
    name: sentinel.name,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(Number.isInteger(db) && db > 0 ? { db } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
    sentinelRetryStrategy: (attempt: number) => Math.min(100 * attempt, 1_000),
    // A master that turned replica (it was demoted) answers READONLY: reconnect, find the new one.
    reconnectOnError: (error: Error) => error.message.startsWith('READONLY'),
  });
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
