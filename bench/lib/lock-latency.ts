/**
 * Lock acquire+release latency, one request at a time (no contention); each iteration locks
 * a fresh upload id, as a request does. Used by the `locks` case (bench/cases/locks.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Locker } from '@tus/utils';
import { Redis } from 'ioredis';

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
 * Not a real locker (no waiting, no extension): the bare Redis work of a lock on a request's
 * path, as the Redis locker does it (SET NX awaited, DEL sent without waiting for its answer),
 * so the table separates the locker's own cost from the machine's loopback noise.
 */
export function plainRedisLocker(client: Redis): Locker {
  return {
    newLock: (id) => ({
      lock: async () => {
        await client.set(id, '1', 'PX', 10_000, 'NX');
      },
      unlock: async () => {
        void client.del(id).catch(() => undefined);
      },
    }),
  };
}
