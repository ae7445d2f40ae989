/**
 * Bounded soak: many concurrent tus-js-client uploads with random aborts and resumes across
 * a local cluster (N Tessera processes + Redis + nginx on 127.0.0.1), for a fixed time.
 * Reports requests, bytes, failures (must be 0), lock keys left in Redis (must be 0), RSS of
 * every instance over time and open file descriptors at start and end. Stops by itself:
 * no new upload after --seconds, at most --grace more for those in flight, then a hard stop.
 *
 *   npx tsx bench/soak.ts [--seconds 300] [--concurrency 200] [--instances 3]
 *                         [--max-mib 8] [--grace 60] [--json FILE]
 *
 * Exit code 0 when nothing failed and nothing leaked, 1 otherwise.
 */
import { randomBytes } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import fs from 'node:fs/promises';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startLocalCluster, type LocalCluster } from '../tools/cluster/local-cluster.js';
import { SoakCounters } from './soak/counters.js';
import { countFds, lockKeys, rssMiB, runtimeGauges, slope, type FdCount, type RuntimeGauges } from './soak/probes.js';
import { uploadLoop } from './soak/upload-loop.js';

const MiB = 1024 * 1024;

interface SoakArgs {
  readonly seconds: number;
  readonly concurrency: number;
  readonly instances: number;
  readonly maxMiB: number;
  readonly grace: number;
  readonly json?: string;
}

function parseArgs(argv: readonly string[]): SoakArgs {
  const values: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match?.[1]) throw new Error(`unexpected argument "${arg}"`);
    values[match[1]] = match[2] ?? argv[(i += 1)] ?? '';
  }
  const known = ['seconds', 'concurrency', 'instances', 'max-mib', 'grace', 'json'];
  for (const key of Object.keys(values)) if (!known.includes(key)) throw new Error(`unknown option --${key}; known: ${known.join(', ')}`);
  const number = (key: string, fallback: number, min: number, max: number) => {
    const value = values[key] === undefined ? fallback : Number(values[key]);
    if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${key} must be an integer from ${min} to ${max}`);
    return value;
  };
  return {
    seconds: number('seconds', 300, 5, 3600),
    concurrency: number('concurrency', 200, 1, 2000),
    instances: number('instances', 3, 1, 8),
    maxMiB: number('max-mib', 8, 1, 256),
    grace: number('grace', 60, 5, 600),
    json: values.json,
  };
}

interface Sample {
  readonly atS: number;
  readonly rssMiB: readonly number[];
  readonly heapUsedMiB: readonly number[];
  readonly requests: number;
  readonly verified: number;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  console.log(`soak: ${args.concurrency} concurrent uploads, ${args.instances} instances, ${args.seconds} s (+ ≤ ${args.grace} s grace)`);
  // The hard bound: whatever happens, the process ends.
  const watchdog = setTimeout(() => {
    console.error('soak: watchdog fired; exiting');
    process.exit(2);
  }, (args.seconds + args.grace + 180) * 1000);
  watchdog.unref();

  let cluster: LocalCluster | undefined;
  const stopCluster = async () => {
    const running = cluster;
    cluster = undefined;
    await running?.stop();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void stopCluster().finally(() => process.exit(130)));
  }
  try {
    cluster = await startLocalCluster({ instances: args.instances, env: { LOG_LEVEL: 'warn' } });
    return await soak(cluster, args);
  } finally {
    await stopCluster();
  }
}

async function soak(cluster: LocalCluster, args: SoakArgs): Promise<number> {
  const pids = cluster.instances.map((i) => i.child.pid as number);
  const gauges = () => Promise.all(cluster.instances.map((i) => runtimeGauges(i.baseUrl)));
  const redis = new Redis(cluster.redis.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: args.concurrency * 4 });
  const pool = randomBytes(Math.max(32, args.maxMiB * 2) * MiB);
  const counters = new SoakCounters();
  try {
    // Warm-up: every code path loaded, keep-alive connections open, before the baseline.
    const warmStop = new AbortController();
    setMaxListeners(0, warmStop.signal);
    await Promise.all(
      Array.from({ length: Math.min(20, args.concurrency) }, () =>
        uploadLoop({ endpoint: cluster.endpoint, pool, maxBytes: MiB, deadline: Date.now() + 3_000, stop: warmStop.signal, agent, counters: new SoakCounters() }),
      ),
    );
    await sleep(2_000);
    const fdsStart = pids.map(countFds);
    const rssStart = pids.map(rssMiB);
    const gaugesStart = await gauges();

    const started = Date.now();
    const deadline = started + args.seconds * 1000;
    const stop = new AbortController();
    // One listener per upload in flight.
    setMaxListeners(0, stop.signal);
    const samples: Sample[] = [];
    const sampleEvery = Math.max(2, Math.round(args.seconds / 60)) * 1000;
    const sampler = setInterval(async () => {
      const heap = await gauges().catch(() => []);
      const sample = {
        atS: Math.round((Date.now() - started) / 1000),
        rssMiB: pids.map(rssMiB),
        heapUsedMiB: heap.map((g) => g.heapUsedMiB),
        requests: counters.requests,
        verified: counters.verified,
      };
      samples.push(sample);
      if (samples.length % 5 === 1) {
        const mib = (values: readonly number[]) => values.map((r) => r.toFixed(0)).join('/');
        console.log(
          `  ${sample.atS}s: ${sample.requests} requests, ${sample.verified} verified, ${counters.failed + counters.wrong} failed, RSS ${mib(sample.rssMiB)} MiB, heap ${mib(sample.heapUsedMiB)} MiB`,
        );
      }
    }, sampleEvery);
    const loops = Array.from({ length: args.concurrency }, () =>
      uploadLoop({ endpoint: cluster.endpoint, pool, maxBytes: args.maxMiB * MiB, deadline, stop: stop.signal, agent, counters }),
    );
    const allDone = Promise.all(loops);
    await Promise.race([allDone, sleep(args.seconds * 1000 + args.grace * 1000)]);
    stop.abort();
    await Promise.race([allDone, sleep(15_000)]);
    clearInterval(sampler);
    const elapsedS = (Date.now() - started) / 1000;

    // Idle: requests cut at the end unwind, locks are released, keep-alive sockets close.
    agent.destroy();
    // Past Node's 5 s keep-alive timeout, so idle proxy connections are gone too.
    await sleep(8_000);
    const fdsEnd = pids.map(countFds);
    const rssEnd = pids.map(rssMiB);
    const gaugesEnd = await gauges();
    const leftLocks = await lockKeys(redis, 'tessera:');
    return report(args, counters, { elapsedS, samples, fdsStart, fdsEnd, rssStart, rssEnd, gaugesStart, gaugesEnd, leftLocks });
  } finally {
    agent.destroy();
    redis.disconnect();
  }
}

interface Observations {
  readonly elapsedS: number;
  readonly samples: readonly Sample[];
  readonly fdsStart: readonly FdCount[];
  readonly fdsEnd: readonly FdCount[];
  readonly rssStart: readonly number[];
  readonly rssEnd: readonly number[];
  readonly gaugesStart: readonly RuntimeGauges[];
  readonly gaugesEnd: readonly RuntimeGauges[];
  readonly leftLocks: readonly string[];
}

/** Allowed growth of non-socket descriptors per instance (log files, lazily opened things). */
const FD_TOLERANCE = 5;

async function report(args: SoakArgs, c: SoakCounters, o: Observations): Promise<number> {
  const peak = o.rssStart.map((_, i) => Math.max(o.rssStart[i] ?? 0, ...o.samples.map((s) => s.rssMiB[i] ?? 0), o.rssEnd[i] ?? 0));
  // Growth over the run's second half: a leak keeps climbing once the working set is warm.
  const half = o.samples.filter((s) => s.atS >= args.seconds / 2);
  const growthPerMin = o.rssStart.map((_, i) => slope(half.map((s) => [s.atS / 60, s.rssMiB[i] ?? 0] as const)));
  const heapGrowthPerMin = o.rssStart.map((_, i) => slope(half.map((s) => [s.atS / 60, s.heapUsedMiB[i] ?? 0] as const)));
  const fdLeak = o.fdsEnd.some((end, i) => end.other - (o.fdsStart[i]?.other ?? 0) > FD_TOLERANCE);
  const ok = c.verified > 0 && c.failed === 0 && c.wrong === 0 && o.leftLocks.length === 0 && !fdLeak;
  const summary = {
    ok,
    config: args,
    elapsedS: Math.round(o.elapsedS),
    requests: c.requests,
    requestsPerS: Math.round(c.requests / o.elapsedS),
    statuses: Object.fromEntries([...c.statuses].sort(([a], [b]) => a - b)),
    lateResponses: c.late,
    uploads: { started: c.started, verified: c.verified, finalsVerified: c.finalsVerified, failed: c.failed, wrongBytes: c.wrong, cutAtEnd: c.cutAtEnd },
    aborts: c.aborts,
    freshClientResumes: c.freshResumes,
    bytesVerified: c.bytesVerified,
    mbPerS: Math.round(c.bytesVerified / 1e6 / o.elapsedS),
    leftLockKeys: o.leftLocks.length,
    rssMiB: o.rssStart.map((start, i) => ({
      start: Math.round(start),
      peak: Math.round(peak[i] ?? 0),
      end: Math.round(o.rssEnd[i] ?? 0),
      secondHalfGrowthMiBPerMin: Number((growthPerMin[i] ?? 0).toFixed(1)),
    })),
    heapUsedMiB: o.gaugesStart.map((start, i) => ({
      start: Math.round(start.heapUsedMiB),
      peak: Math.round(Math.max(start.heapUsedMiB, ...o.samples.map((s) => s.heapUsedMiB[i] ?? 0))),
      end: Math.round(o.gaugesEnd[i]?.heapUsedMiB ?? 0),
      secondHalfGrowthMiBPerMin: Number((heapGrowthPerMin[i] ?? 0).toFixed(1)),
    })),
    activeHandles: o.gaugesStart.map((start, i) => ({ start: start.activeHandles, end: o.gaugesEnd[i]?.activeHandles })),
    fds: o.fdsStart.map((start, i) => ({ start, end: o.fdsEnd[i] })),
    failures: c.failures,
    errorResponses: c.errorResponses,
    stalls: c.stalls,
    samples: o.samples,
  };
  const { samples: _omitted, ...shown } = summary;
  console.log(JSON.stringify(shown, null, 2));
  if (args.json) await fs.writeFile(args.json, `${JSON.stringify(summary, null, 2)}\n`);
  console.log(
    ok
      ? `soak: OK — ${c.verified} files (${c.finalsVerified} finals) verified, ${(c.bytesVerified / MiB).toFixed(0)} MiB, ${c.requests} requests, 0 failures, no lock left, no descriptor leak`
      : `soak: FAILED — ${c.failed} failed, ${c.wrong} wrong, ${o.leftLocks.length} lock keys left, descriptor leak: ${fdLeak}`,
  );
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('soak: error:', error);
    process.exit(1);
  },
);
