import { randomUUID } from 'node:crypto';
import type { Locker } from '@tus/utils';
import { Redis } from 'ioredis';
import { InProcessLocker } from '../../src/locking/in-process-locker.js';
import { RedisLocker } from '../../src/locking/redis-locker.js';
import { measureLockLatency, plainRedisLocker, type LatencyStats } from '../lib/lock-latency.js';
import { goal, type BenchCase, type Goal, type Row } from '../lib/case.js';
import { onCleanup } from '../lib/cleanup.js';
import { managedRedis } from '../lib/managed.js';
import { median, repeat, rotation, timed } from '../lib/stats.js';
import { cpuTicks, QUIET_STEAL, quietRepetitions, stealShare } from '../lib/host-steal.js';

type Variant = 'in-process' | 'floor' | 'redis-1' | 'redis-3';

const labels: Record<Variant, string> = {
  'in-process': 'in-process locker (embedded mode)',
  floor: 'floor: SET NX PX, then DEL not awaited, on 1 Redis (not a locker)',
  'redis-1': 'Redis locker, 1 master (REDIS_URL)',
  'redis-3': 'Redis locker, 3 masters, quorum (REDIS_URLS)',
};

const GOALS = {
  'redis-1': 'Redis locker (1 master) adds < 2 ms p99 per request over in-process, loopback',
  'redis-3': 'Redis locker (3-master quorum) adds < 2 ms p99 per request over in-process, loopback',
} as const;

/**
 * Case 7a: what a lock costs each request. `measureLockLatency` (bench/lib/lock-latency.ts,
 * the locker author's script) times acquire + release of a fresh id, one at a time, as each
 * PATCH does; here its runs interleave across the lockers, repeated.
 */
export const locksCase: BenchCase = {
  id: 'locks',
  title: '7a. Lock acquire + release latency: Redis locker vs in-process (loopback)',
  goals: [GOALS['redis-1'], GOALS['redis-3']],
  async run(ctx) {
    const iterations = ctx.quick ? 400 : 1000;
    const redises = [await managedRedis(), await managedRedis(), await managedRedis()];
    const clients: Redis[] = [];
    const releaseClients = onCleanup('lock bench Redis clients', () => {
      for (const c of clients) c.disconnect();
    });
    const connect = async (url: string): Promise<Redis> => {
      // As in production (src/redis): fail fast while disconnected instead of queueing.
      const client = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1 });
      clients.push(client);
      await new Promise((resolve, reject) => {
        client.once('ready', resolve);
        client.once('error', reject);
      });
      return client;
    };
    const redisLocker = async (urls: readonly string[]) =>
      new RedisLocker({
        clients: await Promise.all(urls.map(connect)),
        prefix: `bench-${randomUUID()}:`,
        acquireTimeoutMs: 20_000,
        releaseDrainMs: 3_000,
      });
    const lockers = new Map<Variant, Locker & { close?(): Promise<void> }>();
    try {
      const [first] = redises;
      if (!first) throw new Error('no Redis');
      lockers.set('in-process', new InProcessLocker({ acquireTimeoutMs: 20_000 }));
      lockers.set('floor', plainRedisLocker(await connect(first.url)));
      lockers.set('redis-1', await redisLocker([first.url]));
      lockers.set('redis-3', await redisLocker(redises.map((r) => r.url)));
      const variants = [...lockers.keys()];

      // Untimed: JIT, connections, and the Redis locker's pub/sub subscription.
      for (const v of variants) await measureLockLatency(lockers.get(v) as Locker, 0, 200);
      const runs = new Map<Variant, { seconds: number[]; stats: LatencyStats[]; steal: number[] }>(
        variants.map((v) => [v, { seconds: [], stats: [], steal: [] }]),
      );
      const stealOf = (v: Variant) => runs.get(v)?.steal ?? [];
      // A tail percentile is what a burst of host steal moves most: judge on quiet repetitions.
      const quietVsInProcess = (v: Variant) => quietRepetitions(stealOf(v), stealOf('in-process'));
      const repetitions = await repeat(
        ctx.quick ? 1 : 10,
        ctx.budgetMs,
        async (rep) => {
          for (const v of rotation(variants, rep)) {
            let stats: LatencyStats | undefined;
            const ticks = cpuTicks();
            const seconds = await timed(async () => {
              stats = await measureLockLatency(lockers.get(v) as Locker, iterations, 0);
            });
            const run = runs.get(v);
            run?.seconds.push(seconds);
            run?.steal.push(stealShare(ticks, cpuTicks()));
            if (stats) run?.stats.push(stats);
          }
          ctx.log(`repetition ${rep + 1} done`);
        },
        () => !ctx.quick && (['redis-1', 'redis-3'] as const).every((v) => (quietVsInProcess(v)?.length ?? 0) >= 5),
      );

      const statsOf = (v: Variant) => runs.get(v)?.stats ?? [];
      const med = (v: Variant, key: 'p50Ms' | 'p99Ms' | 'maxMs') => median(statsOf(v).map((s) => s[key]));
      // Paired per repetition, like the speed ratios: each compares runs made moments apart.
      const addedP99 = (v: Variant) => {
        const base = statsOf('in-process');
        const reps = quietVsInProcess(v) ?? statsOf(v).map((_, i) => i);
        return median(reps.map((i) => (statsOf(v)[i]?.p99Ms ?? Number.NaN) - (base[i]?.p99Ms ?? Number.NaN)));
      };
      const ms = (n: number) => n.toFixed(3);
      const rows: Row[] = variants.map((v) => ({
        label: labels[v],
        seconds: runs.get(v)?.seconds ?? [],
        extra: {
          'p50 ms': ms(med(v, 'p50Ms')),
          'p99 ms': ms(med(v, 'p99Ms')),
          'max ms': ms(med(v, 'maxMs')),
          'p99 added vs in-process, ms': v === 'in-process' ? '' : ms(addedP99(v)),
          'host steal % per repetition': stealOf(v).map((x) => (x * 100).toFixed(0)).join(', '),
        },
      }));
      const goals: Goal[] = (['redis-1', 'redis-3'] as const).map((v) => goal(GOALS[v], addedP99(v), '<', 2, ' ms'));
      return {
        status: 'ok',
        repetitions,
        params: { iterations: `${iterations} acquire + release per locker per repetition` },
        rows,
        goals,
        notes: [
          '"Median s" is the time of one repetition\'s acquire + release pairs (one at a time, a fresh upload id each, no contention); p50/p99/max are per repetition, then the median over repetitions.',
          'Lockers run in the harness process against real redis-server processes on 127.0.0.1 (no persistence), configured as src/coordination configures them (20 s acquire timeout, 3 s drain).',
          `"p99 added" is the median over the repetitions in which both lockers ran while the host took ≤ ${QUIET_STEAL * 100}% of the machine's CPU time (steal), when there are at least 3 such (Redis 1 master: ${quietVsInProcess('redis-1')?.length ?? 'too few, so all'}, quorum: ${quietVsInProcess('redis-3')?.length ?? 'too few, so all'} of ${repetitions}); otherwise over all.`,
          'The floor row is one bare round trip (SET NX PX) plus a DEL sent without waiting: what any Redis lock costs a request on this machine, separating the locker\'s own work from loopback latency.',
          'The Redis locker\'s unlock() returns before Redis has deleted the key (the key, and so the exclusion, lasts until the delete runs; waiters are woken after it), so a request pays one round trip per lock, not two.',
        ],
      };
    } finally {
      for (const locker of lockers.values()) await locker.close?.();
      await releaseClients();
      for (const r of redises) await r.stop();
    }
  },
};
