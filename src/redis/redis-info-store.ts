import type { Redis } from 'ioredis';
import type { KvStore, Upload } from '@tus/utils';
import { viaRedis } from './redis-errors.js';

/**
 * The file store's upload info in Redis, so every instance sees every upload. Replaces
 * @tus/utils' IoRedisKvStore, whose list() returns prefixed keys (which then name no upload)
 * and whose errors surface as bare 500s.
 */
export class RedisInfoStore implements KvStore<Upload> {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(id: string): string {
    return `${this.prefix}info:${id}`;
  }

  get(id: string): Promise<Upload | undefined> {
    return viaRedis(async () => {
      const raw = await this.redis.get(this.key(id));
      return raw === null ? undefined : (JSON.parse(raw) as Upload);
    });
  }

  set(id: string, value: Upload): Promise<void> {
    return viaRedis(async () => {
      await this.redis.set(this.key(id), JSON.stringify(value));
    });
  }

  delete(id: string): Promise<void> {
    return viaRedis(async () => {
      await this.redis.del(this.key(id));
    });
  }

  list(): Promise<string[]> {
    return viaRedis(async () => {
      const ids: string[] = [];
      const start = this.key('').length;
      let cursor = '0';
      do {
        const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.key('')}*`, 'COUNT', 500);
        cursor = next;
        ids.push(...keys.map((k) => k.slice(start)));
      } while (cursor !== '0');
      return ids;
    });
  }
}
