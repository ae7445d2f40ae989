import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { LocalCluster } from '../../tools/cluster/local-cluster.js';
import { goal, speedRatio, type BenchCase, type Goal, type Row } from '../lib/case.js';
import { removeStoredUploads } from '../lib/data.js';
import { request } from '../lib/http-client.js';
import { managedCluster } from '../lib/managed.js';
import { readMemory } from '../lib/rss.js';
import { MiB, repeat, rotation, timed } from '../lib/stats.js';
import { tusJsUpload } from '../lib/tus-js.js';
import { expectStoredSize } from '../lib/uploads.js';

const UPLOADS = 100;
const RATIO_GOAL = 'cluster (nginx → 3 instances) ≥ 0.85× the throughput of 1 instance direct';
const FAIL_GOAL = `no upload fails (${UPLOADS} concurrent, every variant)`;

type Variant = 'single' | 'cluster';

interface Run {
  readonly seconds: number;
  readonly failures: number;
  readonly firstError?: string;
}

/**
 * Case 7b: 100 concurrent uploads through nginx to 3 instances vs straight to 1 instance,
 * both in shared mode (Redis locker and state, one data dir), started by
 * tools/cluster/local-cluster.ts as `npm run cluster` does.
 */
export const clusterCase: BenchCase = {
  id: 'cluster',
  title: `7b. ${UPLOADS} concurrent uploads: nginx → 3 instances vs 1 instance (shared mode, Redis)`,
  goals: [RATIO_GOAL, FAIL_GOAL],
  async run(ctx) {
    const each = (ctx.quick ? 0.5 : 8) * MiB;
    const data = randomBytes(each);
    // Same configuration for both; a short shutdown bound so a cut run stops quickly.
    const env = { LOG_LEVEL: 'warn', SHUTDOWN_TIMEOUT: '2s' };
    // Quick runs have no time for a second cluster's start-up: their single instance is the
    // 3-instance cluster's first one, reached directly (same Redis and data dir, two idle peers).
    const sizes = ctx.quick ? [3] : [1, 3];
    const t0 = performance.now();
    const started = await Promise.allSettled(
      sizes.map(async (instances) => {
        const dataDir = path.join(ctx.workDir, `cluster-of-${instances}`);
        await fs.promises.mkdir(dataDir);
        return managedCluster({ instances, dataDir, env });
      }),
    );
    const clusters = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    try {
      const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
      ctx.log(`cluster(s) of ${sizes.join(' and ')} instance(s) up in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const three = clusters.at(-1) as LocalCluster;
      const one = clusters[0] as LocalCluster;
      const [single] = one.instances;
      if (!single) throw new Error('no instance');
      const targets: Record<Variant, { endpoint: string; dataDir: string; cluster: LocalCluster }> = {
        single: { endpoint: `${single.baseUrl}/files`, dataDir: one.dataDir, cluster: one },
        cluster: { endpoint: three.endpoint, dataDir: three.dataDir, cluster: three },
      };
      const idle = new Map(clusters.map((c) => [c, Math.max(...c.instances.map((i) => readMemory(i.child.pid ?? 0).rssMiB))]));

      const spread = three.instances.map(() => 0);
      const runOne = async (variant: Variant, uploads: number): Promise<Run> => {
        const target = targets[variant];
        const agent = new http.Agent({ keepAlive: true });
        let results: PromiseSettledResult<string>[] = [];
        const createdBefore = variant === 'cluster' ? await createdPerInstance(three) : [];
        try {
          const seconds = await timed(async () => {
            results = await Promise.allSettled(
              Array.from({ length: uploads }, () =>
                tusJsUpload({ endpoint: target.endpoint, data, agent, metadata: { filename: 'f.bin' }, timeoutMs: 120_000 }),
              ),
            );
          });
          const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
          // A fast run that stored nothing must not pass: every success is on the shared disk.
          for (const r of results) if (r.status === 'fulfilled') expectStoredSize(target.dataDir, r.value, each);
          if (variant === 'cluster') {
            const createdAfter = await createdPerInstance(three);
            for (const [i, n] of createdAfter.entries()) spread[i] = (spread[i] ?? 0) + n - (createdBefore[i] ?? 0);
          }
          return { seconds, failures: rejected.length, ...(rejected[0] ? { firstError: String(rejected[0].reason).slice(0, 200) } : {}) };
        } finally {
          agent.destroy();
          await removeStoredUploads(target.dataDir);
        }
      };

      const variants: Variant[] = ['single', 'cluster'];
      for (const v of variants) await runOne(v, ctx.quick ? 10 : 20); // untimed warm-up of every process on the path
      ctx.log('warm-up done');
      spread.fill(0); // count the timed runs only
      const runs = new Map<Variant, Run[]>(variants.map((v) => [v, []]));
      // 800 MiB per run: two repetitions (four runs) already take most of a minute here.
      const repetitions = await repeat(ctx.quick ? 1 : 2, ctx.budgetMs, async (rep) => {
        for (const v of rotation(variants, rep)) runs.get(v)?.push(await runOne(v, UPLOADS));
        ctx.log(`repetition ${rep + 1} done`);
      });

      const secondsOf = (v: Variant) => (runs.get(v) ?? []).map((r) => r.seconds);
      const failuresOf = (v: Variant) => (runs.get(v) ?? []).reduce((n, r) => n + r.failures, 0);
      const peak = (c: LocalCluster) => Math.max(...c.instances.map((i) => readMemory(i.child.pid ?? 0).hwmMiB));
      const row = (v: Variant, label: string, ratios: Row['ratios'] = []): Row => ({
        label,
        seconds: secondsOf(v),
        bytes: UPLOADS * each,
        ratios,
        extra: {
          failures: String(failuresOf(v)),
          'peak RSS MiB per instance (VmHWM, max)': peak(targets[v].cluster).toFixed(0),
        },
      });
      const ratio = speedRatio(secondsOf('cluster'), secondsOf('single'));
      const failures = variants.reduce((n, v) => n + failuresOf(v), 0);
      const goals: Goal[] = [
        goal(RATIO_GOAL, ratio, '>=', 0.85),
        { text: FAIL_GOAL, measured: `${failures} failed of ${UPLOADS * repetitions * variants.length}`, met: failures === 0 },
      ];
      const errors = variants.flatMap((v) => (runs.get(v) ?? []).filter((r) => r.firstError).map((r) => `${v}: ${r.firstError}`));
      return {
        status: 'ok',
        repetitions,
        params: { uploads: `${UPLOADS} × ${each / MiB} MiB at once`, aggregate: `${(UPLOADS * each) / MiB} MiB per run` },
        rows: [
          row('single', '1 instance, direct (no balancer)'),
          row('cluster', 'nginx → 3 instances (round robin)', [{ value: ratio, vs: '1 instance direct', kind: 'speed' }]),
        ],
        goals,
        notes: [
          'Both set-ups are tools/cluster/local-cluster.ts (`npm run cluster`): shared mode (REDIS_URL: Redis locker, upload info and state in Redis), one data dir per set-up, TRUST_PROXY, nginx round robin with no sticky sessions (tools/processes/nginx-balancer.ts), all processes on this machine on 127.0.0.1.',
          ctx.quick
            ? 'Quick run: the single instance is instance 1 of the 3-instance cluster, reached directly (no second cluster is started); a full run starts a separate 1-instance cluster.'
            : 'The goal compares the 3-instance cluster through nginx with the instance of a separate 1-instance cluster (started the same way, own Redis and data dir) reached directly, without nginx, as the issue asks.',
          'tus-js-client, one PATCH per upload, no retries (a failure counts), all uploads started together on one agent; the stored size of every upload is checked on disk after each run.',
          `Uploads created per instance of the 3-instance cluster by its timed runs (Prometheus /metrics of each): ${spread.join(' / ')}.`,
          `MB/s is the aggregate of all ${UPLOADS} uploads (bytes of the run / its wall time). Idle RSS per instance before the runs (max per cluster): ${clusters.map((c) => `${(idle.get(c) ?? 0).toFixed(0)} MiB (${c.instances.length} instance(s))`).join(', ')}.`,
          ...errors.map((e) => `First error: ${e}`),
        ],
      };
    } finally {
      for (const c of clusters) await c.stop();
    }
  },
};

/** `tessera_uploads_created_total` (all kinds) of each instance. */
async function createdPerInstance(cluster: LocalCluster): Promise<number[]> {
  return Promise.all(
    cluster.instances.map(async (instance) => {
      const res = await request(`${instance.baseUrl}/metrics`, { method: 'GET', timeoutMs: 10_000 });
      let total = 0;
      for (const match of res.body.matchAll(/^tessera_uploads_created_total(?:\{[^}]*\})? (\d+(?:\.\d+)?)$/gm)) total += Number(match[1]);
      return total;
    }),
  );
}
