import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { goal, speedRatio, type BenchCase, type Goal } from '../lib/case.js';
import { removeStoredUploads } from '../lib/data.js';
import { startServers, type RunningServer } from '../lib/proc.js';
import { readMemory, RssSampler } from '../lib/rss.js';
import { MiB, repeat, rotation, timed } from '../lib/stats.js';
import { tusJsUpload } from '../lib/tus-js.js';

const UPLOADS = 100;
const RSS_GOAL = `Tessera peak RSS < 300 MiB with ${UPLOADS} concurrent uploads`;
const FAIL_GOAL = `no upload fails (${UPLOADS} concurrent)`;

interface Run {
  readonly seconds: number;
  readonly failures: number;
  readonly firstError?: string;
}

/** Case 6: 100 concurrent tus-js-client uploads; throughput, failures and the server's peak RSS. */
export const concurrencyCase: BenchCase = {
  id: 'concurrency',
  title: `6. ${UPLOADS} concurrent uploads: Tessera vs vanilla @tus/server`,
  goals: [RSS_GOAL, FAIL_GOAL],
  async run(ctx) {
    const each = (ctx.quick ? 0.5 : 4) * MiB;
    // The same bytes for every upload: the server cannot tell, and the client stays small.
    const data = randomBytes(each);
    const servers = await startServers(['tessera', 'vanilla'], ctx.workDir);
    try {
      const idle = new Map(servers.map((s) => [s, readMemory(s.pid).rssMiB]));
      const peaks = new Map(servers.map((s) => [s, 0]));
      const runs = new Map<RunningServer, Run[]>(servers.map((s) => [s, []]));

      const runOne = async (server: RunningServer): Promise<Run> => {
        const agent = new http.Agent({ keepAlive: true });
        const sampler = new RssSampler(server.pid);
        let results: PromiseSettledResult<string>[] = [];
        try {
          const seconds = await timed(async () => {
            results = await Promise.allSettled(
              Array.from({ length: UPLOADS }, () =>
                tusJsUpload({ endpoint: server.endpoint, data, agent, metadata: { filename: 'f.bin' }, timeoutMs: 120_000 }),
              ),
            );
          });
          const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
          return { seconds, failures: failed.length, ...(failed[0] ? { firstError: String(failed[0].reason).slice(0, 200) } : {}) };
        } finally {
          peaks.set(server, Math.max(peaks.get(server) ?? 0, sampler.stop()));
          agent.destroy();
          await removeStoredUploads(server.dataDir);
        }
      };
      const repetitions = await repeat(ctx.quick ? 2 : 3, ctx.budgetMs, async (rep) => {
        for (const s of rotation(servers, rep)) runs.get(s)?.push(await runOne(s));
        ctx.log(`repetition ${rep + 1} done`);
      });

      const [tessera, vanilla] = servers as [RunningServer, RunningServer];
      const secondsOf = (s: RunningServer) => (runs.get(s) ?? []).map((r) => r.seconds);
      const failuresOf = (s: RunningServer) => (runs.get(s) ?? []).reduce((n, r) => n + r.failures, 0);
      const hwm = new Map(servers.map((s) => [s, readMemory(s.pid).hwmMiB]));
      const row = (s: RunningServer, label: string) => ({
        label,
        seconds: secondsOf(s),
        bytes: UPLOADS * each,
        extra: {
          failures: String(failuresOf(s)),
          'idle RSS MiB': (idle.get(s) ?? 0).toFixed(0),
          'peak RSS MiB (VmHWM)': (hwm.get(s) ?? 0).toFixed(0),
        },
      });
      const tesseraPeak = Math.max(hwm.get(tessera) ?? 0, peaks.get(tessera) ?? 0);
      const failures = failuresOf(tessera);
      const goals: Goal[] = [
        goal(RSS_GOAL, tesseraPeak, '<', 300, ' MiB'),
        { text: FAIL_GOAL, measured: `${failures} failed of ${UPLOADS * repetitions}`, met: failures === 0 },
      ];
      const errors = servers.flatMap((s) => (runs.get(s) ?? []).filter((r) => r.firstError).map((r) => `${s.kind}: ${r.firstError}`));
      return {
        status: 'ok',
        repetitions,
        params: { uploads: `${UPLOADS} × ${each / MiB} MiB at once` },
        rows: [
          row(vanilla, 'vanilla @tus/server'),
          { ...row(tessera, 'Tessera'), ratios: [{ value: speedRatio(secondsOf(tessera), secondsOf(vanilla)), vs: 'vanilla', kind: 'speed' }] },
        ],
        goals,
        notes: [
          'tus-js-client, one PATCH per upload, no retries (a failure counts); all uploads start together on one agent (one connection each).',
          'Peak RSS is the kernel high-water mark (VmHWM) of the server process over its whole life, which includes every repetition; VmRSS is also polled every 50 ms.',
          ...errors.map((e) => `First error: ${e}`),
        ],
      };
    } finally {
      for (const s of servers) await s.stop();
    }
  },
};
