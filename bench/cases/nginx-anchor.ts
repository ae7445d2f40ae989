import http from 'node:http';
import { goal, speedRatio, type BenchCase, type Goal, type Row } from '../lib/case.js';
import { makeDataFile, removeStoredUploads } from '../lib/data.js';
import { expectStatus, fileRange, request } from '../lib/http-client.js';
import { QUIET_STEAL, cpuTicks, quietRepetitions, stealShare } from '../lib/host-steal.js';
import { startNginxDav } from '../lib/nginx-dav.js';
import { startServers, type RunningServer } from '../lib/proc.js';
import { cpuSeconds } from '../lib/proc-stats.js';
import { median, MiB, repeat, rotation, timed } from '../lib/stats.js';
import { tusCreate, tusHead, tusPatchFile } from '../lib/tus-raw.js';
import { expectStoredSize } from '../lib/uploads.js';

type Variant = 'nginx' | 'tessera' | 'tessera-sha256';

const GOALS = {
  plain: 'one 256 MiB body: Tessera ≥ 0.9× nginx WebDAV PUT',
  sha256: 'the same with a sha256 Upload-Checksum ≥ 0.85× nginx',
  cpu: 'Tessera server CPU ≤ 1.5 s per GiB',
  head: 'HEAD p99 of another upload while one streams < 20 ms',
};

/**
 * Issue #20's anchor: the fastest upload receiver on this machine, nginx storing a PUT body with
 * its WebDAV module, against Tessera's one-PATCH upload (with and without a sha256
 * Upload-Checksum), same raw client, same body from the page cache, interleaved. While Tessera
 * receives, a second connection sends HEADs of another upload: the event loop's responsiveness.
 */
export const nginxAnchorCase: BenchCase = {
  id: 'nginx',
  title: '11. One upload vs nginx WebDAV PUT (the machine\'s fastest receiver), and HEAD latency meanwhile',
  goals: Object.values(GOALS),
  async run(ctx) {
    const size = (ctx.quick ? 32 : 256) * MiB;
    const data = await makeDataFile(ctx.workDir, 'data.bin', size, size);
    const nginx = await startNginxDav(ctx.workDir);
    const [tessera] = (await startServers(['tessera'], ctx.workDir)) as [RunningServer];
    const agents = { nginx: new http.Agent({ keepAlive: true, maxSockets: 1 }), tessera: new http.Agent({ keepAlive: true, maxSockets: 1 }), head: new http.Agent({ keepAlive: true, maxSockets: 1 }) };
    try {
      const headLatencies: number[] = [];
      let counter = 0;
      const runOne = async (variant: Variant): Promise<{ seconds: number; cpu: number; stolen: number }> => {
        const pid = variant === 'nginx' ? nginx.workerPid : tessera.pid;
        let url = '';
        let streaming = true;
        // The upload HEADs ask about meanwhile: another client's, untouched by the measured one.
        const other = variant === 'nginx' ? '' : await tusCreate(tessera.endpoint, { length: 1, agent: agents.head });
        const cpuBefore = cpuSeconds(pid);
        const ticksBefore = cpuTicks();
        const heads =
          variant === 'nginx'
            ? Promise.resolve()
            : (async () => {
                while (streaming) {
                  const started = performance.now();
                  await tusHead(other, agents.head);
                  headLatencies.push(performance.now() - started);
                  await new Promise((resolve) => setTimeout(resolve, 5));
                }
              })();
        // Its failure is reported where it is awaited (below), never as an unhandled rejection meanwhile.
        heads.catch(() => undefined);
        const seconds = await timed(async () => {
          try {
            if (variant === 'nginx') {
              const res = await request(`${nginx.baseUrl}/u${(counter += 1)}`, { method: 'PUT', headers: { 'Content-Length': String(size) }, body: fileRange(data.path, 0, size), agent: agents.nginx });
              expectStatus(res, 201, 'nginx PUT');
              return;
            }
            url = await tusCreate(tessera.endpoint, { length: size, agent: agents.tessera });
            await tusPatchFile(url, { file: data.path, start: 0, length: size, ...(variant === 'tessera-sha256' ? { chunkSha256: [data.sha256] } : {}) }, agents.tessera);
          } finally {
            streaming = false;
          }
        });
        await heads;
        const cpu = cpuSeconds(pid) - cpuBefore;
        const stolen = stealShare(ticksBefore, cpuTicks());
        if (url) expectStoredSize(tessera.dataDir, url, size);
        await removeStoredUploads(tessera.dataDir);
        return { seconds, cpu, stolen };
      };

      const variants: readonly Variant[] = ['nginx', 'tessera', 'tessera-sha256'];
      for (const v of variants) await runOne(v);
      headLatencies.length = 0;
      const samples = new Map<Variant, number[]>(variants.map((v) => [v, []]));
      const cpu = new Map<Variant, number[]>(variants.map((v) => [v, []]));
      const steal = new Map<Variant, number[]>(variants.map((v) => [v, []]));
      const repetitions = await repeat(ctx.quick ? 3 : 10, ctx.budgetMs, async (rep) => {
        for (const v of rotation(variants, rep)) {
          const one = await runOne(v);
          samples.get(v)?.push(one.seconds);
          cpu.get(v)?.push(one.cpu);
          steal.get(v)?.push(one.stolen);
        }
        ctx.log(`repetition ${rep + 1} done`);
      });
      const s = (v: Variant) => samples.get(v) ?? [];
      const ratio = (a: Variant, b: Variant) => speedRatio(s(a), s(b), quietRepetitions(steal.get(a) ?? [], steal.get(b) ?? []));
      const cpuPerGiB = (v: Variant) => median(cpu.get(v) ?? []) / (size / 1024 ** 3);
      const sorted = [...headLatencies].sort((a, b) => a - b);
      const p99 = sorted.length > 0 ? (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] as number) : Number.NaN;
      const row = (v: Variant, label: string, ratios: Row['ratios'] = []): Row => ({
        label,
        seconds: s(v),
        bytes: size,
        ratios,
        extra: { 'server CPU s/GiB': cpuPerGiB(v).toFixed(2), 'host steal % per sample': (steal.get(v) ?? []).map((x) => (x * 100).toFixed(0)).join(', ') },
      });
      const plain = ratio('tessera', 'nginx');
      const checked = ratio('tessera-sha256', 'nginx');
      const goals: Goal[] = [
        goal(GOALS.plain, plain, '>=', 0.9),
        goal(GOALS.sha256, checked, '>=', 0.85),
        { text: GOALS.cpu, measured: `${cpuPerGiB('tessera').toFixed(2)} s/GiB (nginx ${cpuPerGiB('nginx').toFixed(2)})`, met: cpuPerGiB('tessera') <= 1.5 },
        { text: GOALS.head, measured: `${p99.toFixed(1)} ms over ${sorted.length} HEADs (median ${median(sorted).toFixed(1)} ms)`, met: p99 < 20 },
      ];
      return {
        status: 'ok',
        repetitions,
        params: { size: `${size / MiB} MiB` },
        rows: [
          row('nginx', 'nginx WebDAV PUT (one worker, body to a temp file, renamed)'),
          row('tessera', 'Tessera, creation + one PATCH', [{ value: plain, vs: 'nginx', kind: 'speed' }]),
          row('tessera-sha256', 'Tessera + sha256 Upload-Checksum, one PATCH', [{ value: checked, vs: 'nginx', kind: 'speed' }]),
        ],
        goals,
        notes: [
          'Same raw HTTP client for all (one keep-alive connection per server) streaming the body from a file in the page cache; nginx gets one PUT, Tessera a creation POST and one PATCH (both timed).',
          `nginx: dav_methods PUT, client_body_temp_path in the same file system as root, one worker; its CPU is the worker's. Ratios are medians over repetitions run while the host took ≤ ${QUIET_STEAL * 100}% (steal) when at least 3, else all.`,
          'HEAD latency: while each Tessera upload streams, another connection sends a HEAD of another upload every 5 ms (wall time per HEAD, the client on the same 2 cores).',
        ],
      };
    } finally {
      for (const agent of Object.values(agents)) agent.destroy();
      await tessera.stop();
      await nginx.stop();
    }
  },
};
