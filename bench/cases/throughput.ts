import http from 'node:http';
import { goal, notMeasured, speedRatio, type BenchCase, type Goal, type Row } from '../lib/case.js';
import { removeStoredUploads, makeDataFile } from '../lib/data.js';
import { startServers, type RunningServer } from '../lib/proc.js';
import { cpuSeconds } from '../lib/proc-stats.js';
import { cpuTicks, QUIET_STEAL, quietRepetitions, stealShare } from '../lib/host-steal.js';
import { median, MiB, repeat, rotation, timed } from '../lib/stats.js';
import { barePostFile, tusCapabilities, tusCreate, tusPatchFile, type FileUpload } from '../lib/tus-raw.js';
import { expectStoredSize } from '../lib/uploads.js';

type Mode = 'one PATCH' | '8 MiB chunks';
type Server = 'bare' | 'vanilla' | 'tessera' | 'tessera-sha256';

const labels: Record<Server, string> = {
  bare: 'bare pipe',
  vanilla: 'vanilla @tus/server',
  tessera: 'Tessera',
  'tessera-sha256': 'Tessera + sha256',
};

const GOALS = {
  vanilla: (m: Mode) => `Tessera ≥ 1.0× vanilla @tus/server (${m})`,
  checksum: (m: Mode) => `sha256 checksums on ≥ 0.9× off (${m})`,
  bare: (m: Mode) => `toward ≥ 0.8× the bare pipe (${m})`,
};
const MODES: readonly Mode[] = ['one PATCH', '8 MiB chunks'];

/**
 * Cases 1 and 2 in one run, so their repetitions interleave: the limit (bare pipe), the peer
 * (vanilla @tus/server) and Tessera with checksums off and on, each as one PATCH and 8 MiB chunks.
 */
export const throughputCase: BenchCase = {
  id: 'throughput',
  title: '1–2. One upload: bare pipe, vanilla @tus/server, Tessera (checksums off/on)',
  goals: MODES.flatMap((m) => [GOALS.vanilla(m), GOALS.checksum(m), GOALS.bare(m)]),
  async run(ctx) {
    const size = (ctx.quick ? 32 : 256) * MiB;
    const chunkSize = 8 * MiB;
    const data = await makeDataFile(ctx.workDir, 'data.bin', size, chunkSize);
    const servers = await startServers(['bare', 'vanilla', 'tessera'], ctx.workDir);
    const agents: http.Agent[] = [];
    try {
      const [bare, vanilla, tessera] = servers as [RunningServer, RunningServer, RunningServer];
      const caps = await tusCapabilities(tessera.endpoint);
      const checksum =
        caps.extensions.includes('checksum') && (caps.checksumAlgorithms.length === 0 || caps.checksumAlgorithms.includes('sha256'));

      const agentFor = new Map<RunningServer, http.Agent>();
      for (const s of servers) {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        agents.push(agent);
        agentFor.set(s, agent);
      }
      const uploadOf = (mode: Mode, withChecksum: boolean): FileUpload => ({
        file: data.path,
        start: 0,
        length: size,
        ...(mode === '8 MiB chunks' ? { chunkSize } : {}),
        ...(withChecksum ? { chunkSha256: mode === '8 MiB chunks' ? data.chunkSha256 : [data.sha256] } : {}),
      });
      let counter = 0;
      // Server CPU per upload: unlike wall time, barely moved by what else the VM's host runs.
      const serverCpu = new Map<string, number[]>();
      const steal = new Map<string, number[]>();
      const runOne = async (server: Server, mode: Mode): Promise<{ seconds: number; cpu: number; stolen: number }> => {
        const target = server === 'bare' ? bare : server === 'vanilla' ? vanilla : tessera;
        const agent = agentFor.get(target) as http.Agent;
        const upload = uploadOf(mode, server === 'tessera-sha256');
        let url = '';
        const cpuBefore = cpuSeconds(target.pid);
        const ticksBefore = cpuTicks();
        const seconds = await timed(async () => {
          if (target === bare) return barePostFile(bare.endpoint, `u${(counter += 1)}`, upload, agent);
          url = await tusCreate(target.endpoint, { length: size, agent });
          await tusPatchFile(url, upload, agent);
        });
        const cpu = cpuSeconds(target.pid) - cpuBefore;
        const stolen = stealShare(ticksBefore, cpuTicks());
        if (url) expectStoredSize(target.dataDir, url, size);
        await removeStoredUploads(target.dataDir);
        return { seconds, cpu, stolen };
      };

      const variants = MODES.flatMap((mode) =>
        (['bare', 'vanilla', 'tessera', 'tessera-sha256'] as const)
          .filter((s) => s !== 'tessera-sha256' || checksum)
          .map((server) => ({ mode, server, key: `${server}/${mode}` })),
      );
      // One untimed pass: JIT, connections and the data file's page cache warm for everyone.
      for (const v of variants) await runOne(v.server, v.mode);
      const samples = new Map<string, number[]>(variants.map((v) => [v.key, []]));
      // Tessera against each peer, and checksums on against off: the goals' comparisons.
      const compared: readonly (readonly [Server, Server])[] = [['tessera', 'vanilla'], ['tessera', 'bare'], ['tessera-sha256', 'tessera']];
      const quietOf = (a: Server, b: Server, mode: Mode) => quietRepetitions(steal.get(`${a}/${mode}`) ?? [], steal.get(`${b}/${mode}`) ?? []);
      // Enough once every comparison has 5 repetitions run on a quiet host (see host-steal.ts).
      const enough = (done: number) => done >= 5 && MODES.every((m) => compared.every(([a, b]) => (quietOf(a, b, m)?.length ?? 0) >= 5));
      const repetitions = await repeat(ctx.quick ? 3 : 10, ctx.budgetMs, async (rep) => {
        for (const v of rotation(variants, rep)) {
          const { seconds, cpu, stolen } = await runOne(v.server, v.mode);
          steal.set(v.key, [...(steal.get(v.key) ?? []), stolen]);
          samples.get(v.key)?.push(seconds);
          serverCpu.set(v.key, [...(serverCpu.get(v.key) ?? []), cpu]);
        }
        ctx.log(`repetition ${rep + 1} done`);
      }, (done) => !ctx.quick && enough(done));

      const rows: Row[] = [];
      const goals: Goal[] = [];
      const pairsUsed: string[] = [];
      for (const mode of MODES) {
        const s = (server: Server) => samples.get(`${server}/${mode}`) ?? [];
        const cpuPerGiB = (server: Server) => median(serverCpu.get(`${server}/${mode}`) ?? []) / (size / 1024 ** 3);
        const row = (server: Server, ratios: Row['ratios'] = []): Row => ({
          label: `${labels[server]}, ${mode}`,
          seconds: s(server),
          bytes: size,
          ratios,
          extra: {
            'server CPU s/GiB': cpuPerGiB(server).toFixed(2),
            'host steal % per sample': (steal.get(`${server}/${mode}`) ?? []).map((x) => (x * 100).toFixed(0)).join(', '),
          },
        });
        const ratio = (a: Server, b: Server) => {
          const quiet = quietOf(a, b, mode);
          pairsUsed.push(`${labels[a]} vs ${labels[b]} (${mode}): ${quiet ? `${quiet.length} quiet` : `all ${s(a).length} (too few quiet)`}`);
          return speedRatio(s(a), s(b), quiet);
        };
        const vsBare = ratio('tessera', 'bare');
        const vsVanilla = ratio('tessera', 'vanilla');
        rows.push(
          row('bare'),
          row('vanilla', [{ value: ratio('vanilla', 'bare'), vs: 'bare pipe', kind: 'speed' }]),
          row('tessera', [
            { value: vsVanilla, vs: 'vanilla', kind: 'speed' },
            { value: vsBare, vs: 'bare pipe', kind: 'speed' },
          ]),
        );
        goals.push(goal(GOALS.vanilla(mode), vsVanilla, '>=', 1.0));
        if (checksum) {
          const on = ratio('tessera-sha256', 'tessera');
          rows.push(row('tessera-sha256', [{ value: on, vs: 'Tessera (checksums off)', kind: 'speed' }]));
          goals.push(goal(GOALS.checksum(mode), on, '>=', 0.9));
        } else {
          rows.push({ label: `${labels['tessera-sha256']}, ${mode}`, seconds: [], unavailable: 'not available (no `checksum` in Tus-Extension)' });
          goals.push(notMeasured(GOALS.checksum(mode), 'not available'));
        }
        goals.push(goal(GOALS.bare(mode), vsBare, '>=', 0.8));
      }
      const cpuOf = (key: string) => median(serverCpu.get(key) ?? []);
      const cpuVersusVanilla = MODES.map((m) => `${(cpuOf(`tessera/${m}`) / cpuOf(`vanilla/${m}`)).toFixed(2)}×`).join(' / ');
      return {
        status: 'ok',
        repetitions,
        params: { size: `${size / MiB} MiB`, chunk: `${chunkSize / MiB} MiB` },
        rows,
        goals,
        notes: [
          'Raw HTTP client (one keep-alive connection per server) streaming from a file in the page cache; the POST that creates the upload is part of the timed upload.',
          'Checksums: `Upload-Checksum: sha256 <base64>` on every PATCH, digests computed before timing; the bare pipe appends each chunk with one POST.',
          `Ratios are medians over the repetitions in which both samples ran while the host took ≤ ${QUIET_STEAL * 100}% of the machine's CPU time (steal, from /proc/stat), when there are at least 3 such; otherwise over all. Steal is what varies here (samples with 20–40% steal take up to twice as long), and it depends on the host, not on the variant. Repetitions used: ${pairsUsed.join('; ')}.`,
          `"server CPU s/GiB": user + system CPU of the server process (all threads) per GiB uploaded, median over repetitions; steadier than wall time on a shared VM. Tessera used ${cpuVersusVanilla} the CPU of vanilla @tus/server (one PATCH / 8 MiB chunks).`,
          `Tessera advertised: Tus-Extension ${caps.extensions.join(',') || '(none)'}${caps.checksumAlgorithms.length ? `; Tus-Checksum-Algorithm ${caps.checksumAlgorithms.join(',')}` : ''}.`,
        ],
      };
    } finally {
      for (const agent of agents) agent.destroy();
      for (const s of servers) await s.stop();
    }
  },
};
