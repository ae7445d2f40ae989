import type { Redis } from 'ioredis';
import type { UploadState, UploadStateStore } from '../tus/state/upload-state.js';
import { viaRedis } from './redis-errors.js';

const MAX_ATTEMPTS = 20;

// Deletes KEYS[1] only while it still holds ARGV[1].
const RELEASE_IF_EQUAL = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * Upload state shared by every instance, for S3 in shared mode (instances there share no
 * volume to keep it beside the data: a Redis that restarts empty loses the lifecycle records
 * of S3 uploads, not their data; see README). `update` is optimistic (WATCH/MULTI, retried), so
 * two instances registering finals on one partial never lose each other's write.
 */
export class RedisUploadStateStore implements UploadStateStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  private key(id: string): string {
    return `${this.prefix}state:${id}`;
  }

  get(id: string): Promise<UploadState | undefined> {
    return viaRedis(async () => parse(await this.redis.get(this.key(id))));
  }

  update(
    id: string,
    change: (current: UploadState | undefined) => UploadState | undefined,
  ): Promise<UploadState | undefined> {
    return viaRedis(async () => {
      // A dedicated connection: WATCH is per connection, and the shared one serves others.
      const conn = this.redis.duplicate({ enableOfflineQueue: true });
      try {
        for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
          await conn.watch(this.key(id));
          const next = change(parse(await conn.get(this.key(id))));
          const tx = conn.multi();
          if (next === undefined) tx.del(this.key(id));
          else tx.set(this.key(id), JSON.stringify(next));
          if ((await tx.exec()) !== null) return next;
        }
        throw new Error(`state of ${id} kept changing; gave up after ${MAX_ATTEMPTS} attempts`);
      } finally {
        conn.disconnect();
      }
    });
  }

  delete(id: string): Promise<void> {
    return viaRedis(async () => {
      await this.redis.del(this.key(id), this.linksKey(id));
    });
  }

  ids(): Promise<string[]> {
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

  private linksKey(partialId: string): string {
    return `${this.prefix}links:${partialId}`;
  }

  link(partialId: string, finalId: string): Promise<void> {
    return viaRedis(async () => {
      await this.redis.sadd(this.linksKey(partialId), finalId);
    });
  }

  linkedFinals(partialId: string): Promise<string[]> {
    return viaRedis(async () => {
      const [linked, raw] = await Promise.all([this.redis.smembers(this.linksKey(partialId)), this.redis.get(this.key(partialId))]);
      const state = parse(raw);
      const older = state?.kind === 'partial' ? (state.finals ?? []) : [];
      return [...new Set([...older, ...linked])];
    });
  }

  claim(key: string, value: string): Promise<string> {
    return viaRedis(async () => {
      const claimKey = `${this.prefix}claim:${key}`;
      if ((await this.redis.set(claimKey, value, 'NX')) === 'OK') return value;
      return (await this.redis.get(claimKey)) ?? this.claim(key, value);
    });
  }

  claimed(key: string): Promise<string | undefined> {
    return viaRedis(async () => (await this.redis.get(`${this.prefix}claim:${key}`)) ?? undefined);
  }

  release(key: string, value: string): Promise<void> {
    return viaRedis(async () => {
      await this.redis.eval(RELEASE_IF_EQUAL, 1, `${this.prefix}claim:${key}`, value);
    });
  }

  ping(): Promise<void> {
    return viaRedis(async () => {
      await this.redis.ping();
    });
  }
}

function parse(raw: string | null): UploadState | undefined {
  return raw === null ? undefined : (JSON.parse(raw) as UploadState);
}
