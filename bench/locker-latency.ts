/**
 * `npx tsx bench/locker-latency.ts [iterations]`: lock acquire+release latency, one request
 * at a time (no contention), in-process locker vs the Redis locker over one master and over a
 * quorum of three, all on loopback. Each iteration locks a fresh upload id, as a request does.
 * `measureLockLatency` is exported for the bench harness.
 */
import { randomUUID } from 'node:crypto';
import type { Locker } from '@tus/utils';
import { Redis } from 'ioredis';
import { InProcessLocker } from '../src/locking/in-process-locker.js';
import { RedisLocker } from '../src/locking/redis-locker.js';
import { startRedis } from '../test/support/redis.js';

export interface LatencyStats {
  readonly iterations: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export async function measureLockLatency(locker: Locker, iterations: number, warmup = 100): Promise<LatencyStats> {
  const never = new AbortController().signal;
  const samples: number[] = [];
  for (let i = 0; i < warmup + iterations; i += 1) {
    const lock = locker.newLock(`bench-${randomUUID()}`);
    const start = process.hrtime.bigint();
    await lock.lock(never, () => undefined);
    await lock.unlock();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (i >= warmup) samples.push(ms);
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))] ?? Number.NaN;
  return { iterations, p50Ms: at(0.5), p99Ms: at(0.99), maxMs: samples.at(-1) ?? Number.NaN };
}

/**
 * Not a real locker (no waiting, no extension): the two bare round trips any Redis lock
 * needs, so the table separates the locker's own cost from the machine's loopback noise.
 */
export function plainRedisLocker(client: Redis): Locker {
  return {
    newLock: (id) => ({
      lock: async () => {
        await client.set(id, '1', 'PX', 10_000, 'NX');
      },
      unlock: async () => {
        await client.del(id);
      },
    }),
  };
}

async function main(): Promise<void> {
  const iterations = Number(process.argv[2] ?? 1000);
  const servers = await Promise.all([startRedis(), startRedis(), startRedis()]);
  const clients: Redis[] = [];
  const connect = async (url: string) => {
    const client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    clients.push(client);
    await new Promise((resolve) => client.once('ready', resolve));
    return client;
  };
  const redisLocker = async (urls: readonly string[]) =>
    new RedisLocker({
      clients: await Promise.all(urls.map(connect)),
      prefix: `bench-${randomUUID()}:`,
      acquireTimeoutMs: 20_000,
      releaseDrainMs: 3_000,
    });
  try {
    const variants: [string, Locker & { close?(): Promise<void> }][] = [
      ['in-process', new InProcessLocker({ acquireTimeoutMs: 20_000 })],
      ['floor: SET NX PX + DEL, 1 master', plainRedisLocker(await connect(servers[0]?.url ?? ''))],
      ['redis, 1 master', await redisLocker([servers[0]?.url ?? ''])],
      ['redis, 3 masters (quorum)', await redisLocker(servers.map((s) => s.url))],
    ];
    const rows: string[] = ['| locker | iterations | p50 ms | p99 ms | max ms |', '|---|---:|---:|---:|---:|'];
    for (const [label, locker] of variants) {
      const s = await measureLockLatency(locker, iterations);
      rows.push(`| ${label} | ${s.iterations} | ${s.p50Ms.toFixed(3)} | ${s.p99Ms.toFixed(3)} | ${s.maxMs.toFixed(3)} |`);
      await locker.close?.();
    }
    process.stdout.write(`${rows.join('\n')}\n`);
  } finally {
    for (const client of clients) client.disconnect();
    await Promise.all(servers.map((s) => s.stop()));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
