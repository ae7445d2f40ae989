import fs from 'node:fs';
import http from 'node:http';
import type { S3 } from '@aws-sdk/client-s3';
import type { HttpRequest } from 'tus-js-client';
import { goal, speedRatio, type BenchCase, type CaseOutcome, type Goal, type Row, unavailable } from '../lib/case.js';
import { makeDataFile, type DataFile } from '../lib/data.js';
import { fileRange } from '../lib/http-client.js';
import { managedS3Server } from '../lib/managed.js';
import { startServer, type RunningServer } from '../lib/proc.js';
import { cpuSeconds, ioBytes, ownCpuSeconds } from '../lib/proc-stats.js';
import { cpuTicks, QUIET_STEAL, quietRepetitions, stealShare } from '../lib/host-steal.js';
import { emptyBucket, objectSize, s3ClientFor, statsDiff, tesseraS3Env, type S3Stats } from '../lib/s3-client.js';
import { MiB, median, repeat, rotation, timed } from '../lib/stats.js';
import { tusJsUpload } from '../lib/tus-js.js';
import { barePostFile, tusCapabilities, tusCreate, tusPatchFile } from '../lib/tus-raw.js';
import { uploadIdOf } from '../lib/uploads.js';
import { expectComplete } from '../lib/verify.js';

const BUCKET = 'tessera-bench';
const PARTS = 4;
const CHUNK = 8 * MiB;
/** Warm-up size: every code path (partials of 5 MiB are still copied inside S3), for a fraction of the time. */
const WARM_UP_SIZE = PARTS * 5 * MiB;
const SPEED_GOAL = 'Tessera on S3, one PATCH ≥ 0.8× a direct PutObject stream of the same file';
const BYTES_GOAL = `assembly of ${PARTS} partials ≥ 5 MiB sends 0 data bytes through Tessera (UploadPart during the final POST)`;

type Variant = 'put' | 'relay' | 'tus' | 'tus-sha256' | 'parallel';

const labels: Record<Variant, string> = {
  put: 'direct PutObject stream (SDK → S3 server)',
  relay: 'naive relay: a bare Node server streams the body into one SDK PutObject (no tus)',
  tus: 'Tessera, one PATCH',
  'tus-sha256': 'Tessera, 8 MiB PATCHes with Upload-Checksum sha256',
  parallel: `tus-js-client parallelUploads: ${PARTS} + sha256, assembled inside S3`,
};

/** CPU seconds [S3 server, Tessera, client]. */
type Cpu = readonly [number, number, number];

/** A data file and the same bytes in memory (tus-js-client's parallel uploads need a Buffer). */
type Source = DataFile & { readonly buffer: Buffer };

interface Assembly {
  readonly ms: number;
  readonly stats: { readonly before: S3Stats; readonly after: S3Stats };
  readonly tesseraIo: { readonly read: number; readonly written: number };
}

/**
 * Case 8: Tessera in S3_BUCKET mode against the S3-compatible test server
 * (tools/processes/s3-server.ts), and the same file sent straight to that server with the
 * SDK. The parallel run also measures what the final POST moved: the S3 server's per-operation
 * byte counters, and the Tessera process's own syscall byte counters as a cross-check.
 */
export const s3Case: BenchCase = {
  id: 's3',
  title: '8. S3 store: plain upload and parallel upload + assembly inside S3 vs a direct PutObject',
  goals: [SPEED_GOAL, BYTES_GOAL],
  async run(ctx): Promise<CaseOutcome> {
    const size = (ctx.quick ? 32 : 256) * MiB;
    const s3 = await managedS3Server([BUCKET]);
    let tessera: RunningServer | undefined;
    let relay: RunningServer | undefined;
    const client = s3ClientFor(s3);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      tessera = await startServer('tessera', ctx.workDir, { env: { ...tesseraS3Env(s3, BUCKET), LOG_LEVEL: 'warn', WEB_UI: 'false' } });
      const server = tessera;
      relay = await startServer('s3-relay', ctx.workDir, { env: tesseraS3Env(s3, BUCKET) });
      const bare = relay;
      const caps = await tusCapabilities(server.endpoint);
      if (!caps.extensions.includes('concatenation')) return unavailable('no `concatenation` in Tus-Extension on S3', [SPEED_GOAL, BYTES_GOAL]);
      const checksum = caps.extensions.includes('checksum') && (caps.checksumAlgorithms.length === 0 || caps.checksumAlgorithms.includes('sha256'));
      const source = async (name: string, bytes: number): Promise<Source> => {
        const made = await makeDataFile(ctx.workDir, name, bytes, CHUNK);
        return { ...made, buffer: await fs.promises.readFile(made.path) };
      };
      const file = await source('data.bin', size);
      const warm = await source('warm-up.bin', WARM_UP_SIZE);
      // The middle process is whichever relays the bytes: Tessera, or the naive relay.
      const cpuNow = (): Cpu => [cpuSeconds(s3.pid), cpuSeconds(server.pid) + cpuSeconds(bare.pid), ownCpuSeconds()];
      let counter = 0;

      const upload: Record<Variant, (src: Source) => Promise<{ key: string; url?: string; assembly?: Assembly }>> = {
        put: async (src) => {
          const key = `direct-${(counter += 1)}`;
          await client.putObject({ Bucket: BUCKET, Key: key, Body: fileRange(src.path, 0, src.size), ContentLength: src.size });
          return { key };
        },
        relay: async (src) => {
          const key = `relayed-${(counter += 1)}`;
          await barePostFile(bare.endpoint, key, { file: src.path, start: 0, length: src.size }, agent);
          return { key };
        },
        tus: async (src) => {
          const url = await tusCreate(server.endpoint, { length: src.size, agent });
          await tusPatchFile(url, { file: src.path, start: 0, length: src.size }, agent);
          return { key: uploadIdOf(url), url };
        },
        'tus-sha256': async (src) => {
          const url = await tusCreate(server.endpoint, { length: src.size, agent });
          await tusPatchFile(url, { file: src.path, start: 0, length: src.size, chunkSize: CHUNK, chunkSha256: src.chunkSha256 }, agent);
          return { key: uploadIdOf(url), url };
        },
        parallel: async (src) => {
          const fresh = new http.Agent({ keepAlive: true });
          let before: { stats: S3Stats; io: { read: number; written: number }; at: number } | undefined;
          let end: { io: { read: number; written: number }; at: number } | undefined;
          const isFinal = (req: HttpRequest) => req.getMethod() === 'POST' && (req.getHeader('Upload-Concat') ?? '').startsWith('final');
          try {
            const url = await tusJsUpload({
              endpoint: server.endpoint,
              data: src.buffer,
              parallelUploads: PARTS,
              metadata: { filename: 'data.bin', sha256: src.sha256.toString('hex') },
              agent: fresh,
              timeoutMs: 300_000,
              // Partials are all done when the final POST starts: what S3 sees from here on is the assembly.
              onBeforeRequest: async (req) => {
                if (isFinal(req)) before = { stats: await s3.stats(), io: ioBytes(server.pid), at: performance.now() };
              },
              onAfterResponse: (req) => {
                if (isFinal(req)) end = { io: ioBytes(server.pid), at: performance.now() };
              },
            });
            if (!before || !end) throw new Error('the final POST was not observed');
            const after = await s3.stats();
            return {
              key: uploadIdOf(url),
              url,
              assembly: {
                ms: end.at - before.at,
                stats: { before: before.stats, after },
                tesseraIo: { read: end.io.read - before.io.read, written: end.io.written - before.io.written },
              },
            };
          } finally {
            fresh.destroy();
          }
        },
      };

      // Quick runs keep the two variants the goals judge, and the parallel one: the checksummed row is a full-run extra.
      const withChecksumRow = checksum && !ctx.quick;
      const variants: Variant[] = ['put', 'relay', 'tus', ...(withChecksumRow ? (['tus-sha256'] as const) : []), 'parallel'];
      const seconds = new Map<Variant, number[]>(variants.map((v) => [v, []]));
      const cpu = new Map<Variant, Cpu[]>(variants.map((v) => [v, []]));
      const steal = new Map<Variant, number[]>(variants.map((v) => [v, []]));
      const assemblies: Assembly[] = [];
      const runOne = async (v: Variant, src: Source): Promise<void> => {
        const cpuBefore = cpuNow();
        const ticksBefore = cpuTicks();
        let result: Awaited<ReturnType<(typeof upload)[Variant]>> | undefined;
        const s = await timed(async () => {
          result = await upload[v](src);
        });
        const cpuAfter = cpuNow();
        const stolen = stealShare(ticksBefore, cpuTicks());
        if (!result) throw new Error(`${v}: no result`);
        await verify(client, result, src);
        await emptyBucket(client, BUCKET);
        if (src !== file) return;
        seconds.get(v)?.push(s);
        steal.get(v)?.push(stolen);
        cpu.get(v)?.push(cpuAfter.map((c, i) => c - (cpuBefore[i] ?? 0)) as unknown as Cpu);
        if (result.assembly) assemblies.push(result.assembly);
      };

      ctx.log('S3 server and Tessera up, data ready');
      for (const v of variants) await runOne(v, warm); // untimed
      ctx.log('warm-up done');
      // The goal's comparison (Tessera, one PATCH vs PutObject) on a quiet host: see host-steal.ts.
      const quietVsPut = (v: Variant) => quietRepetitions(steal.get(v) ?? [], steal.get('put') ?? []);
      const repetitions = await repeat(
        ctx.quick ? 1 : 8,
        ctx.budgetMs,
        async (rep) => {
          for (const v of rotation(variants, rep)) await runOne(v, file);
          ctx.log(`repetition ${rep + 1} done`);
        },
        () => !ctx.quick && (seconds.get('put')?.length ?? 0) >= 5 && (quietVsPut('tus')?.length ?? 0) >= 5,
      );

      const put = seconds.get('put') ?? [];
      const GiB = size / 1024 ** 3;
      const cpuCell = (v: Variant, i: 0 | 1 | 2) => median((cpu.get(v) ?? []).map((c) => c[i] / GiB)).toFixed(1);
      const rows: Row[] = variants.map((v) => ({
        label: labels[v],
        seconds: seconds.get(v) ?? [],
        bytes: size,
        ratios: [
          ...(v === 'put' ? [] : [{ value: speedRatio(seconds.get(v) ?? [], put, quietVsPut(v)), vs: 'direct PutObject', kind: 'speed' as const }]),
          ...(v === 'tus' ? [{ value: speedRatio(seconds.get(v) ?? [], seconds.get('relay') ?? []), vs: 'the naive relay', kind: 'speed' as const }] : []),
        ],
        extra: {
          'CPU s/GiB: S3 server': cpuCell(v, 0),
          'Tessera or relay': cpuCell(v, 1),
          client: cpuCell(v, 2),
          'host steal % per sample': (steal.get(v) ?? []).map((x) => (x * 100).toFixed(0)).join(', '),
        },
      }));
      if (!withChecksumRow) {
        const why = checksum ? 'not run in quick mode' : 'not available (no `checksum` in Tus-Extension)';
        rows.splice(3, 0, { label: labels['tus-sha256'], seconds: [], unavailable: why });
      }

      const during = (op: string, field: Parameters<typeof statsDiff>[3]) => assemblies.map((x) => statsDiff(x.stats.before, x.stats.after, op, field));
      const uploadedData = Math.max(...during('UploadPart', 'bytesIn'), 0);
      const sum = (values: number[]) => values.reduce((s, v) => s + v, 0);
      const perRun = (values: number[]) => [...new Set(values)].join(' or ');
      const perRunBytes = (values: number[]) => [...new Set(values.map(formatBytes))].join(' or ');
      const goals: Goal[] = [
        goal(SPEED_GOAL, speedRatio(seconds.get('tus') ?? [], put, quietVsPut('tus')), '>=', 0.8),
        {
          text: BYTES_GOAL,
          measured:
            `${formatBytes(uploadedData)} of data uploaded by Tessera (max over ${assemblies.length} runs); ` +
            `${perRunBytes(during('UploadPartCopy', 'bytesCopied'))} copied inside S3; ${perRunBytes(during('GetObject', 'bytesOut'))} read back for the SHA-256`,
          met: assemblies.length > 0 ? uploadedData === 0 : null,
        },
      ];
      const io = assemblies.map((x) => x.tesseraIo);
      return {
        status: 'ok',
        repetitions,
        params: { size: `${size / MiB} MiB`, partials: `${PARTS} × ${size / PARTS / MiB} MiB`, 'S3 part size': '8 MiB (S3_PART_SIZE default)' },
        rows,
        goals,
        notes: [
          'S3 = tools/s3-server (S3-compatible test server, its own Node process on 127.0.0.1, objects on local disk); Tessera runs with S3_BUCKET against it. Client, Tessera (or the relay) and the S3 server share the same 2 cores: the CPU columns say where the time goes (per GiB uploaded, medians). A direct PutObject keeps 2 processes busy, every relay 3: the naive relay row shows what an extra hop costs here without any tus work.',
          `Ratios vs PutObject are medians over the repetitions in which both samples ran while the host took ≤ ${QUIET_STEAL * 100}% of the machine's CPU time (steal), when there are at least 3 such (Tessera, one PATCH: ${quietVsPut('tus')?.length ?? 'too few, so all'} of ${seconds.get('tus')?.length ?? 0}); otherwise over all.`,
          `Each variant first runs once untimed with ${WARM_UP_SIZE / MiB} MiB (${PARTS} partials of ${WARM_UP_SIZE / PARTS / MiB} MiB), so no timed run meets a cold process or connection.`,
          'PutObject streams the data file with the AWS SDK (WHEN_REQUIRED checksums, as Tessera is configured); the Tessera rows stream the same file with the raw HTTP client (POST, then PATCH), the naive relay row with the same client (one POST, answered once its PutObject is); the parallel row is tus-js-client from memory, its time running until the final POST (assembly + SHA-256 verification) answered. Every result is checked: object size in the bucket, and for tus uploads HEAD (and Tessera-Sha256 when reported).',
          `Final POST (assembly inside S3 + SHA-256 read-back): median ${median(assemblies.map((x) => x.ms)).toFixed(0)} ms (${(size / 1e6 / (median(assemblies.map((x) => x.ms)) / 1000)).toFixed(0)} MB/s of final object).`,
          `S3 operations during each final POST (S3 server counters): UploadPartCopy ${perRun(during('UploadPartCopy', 'requests'))} requests, ${perRunBytes(during('UploadPartCopy', 'bytesCopied'))} copied; ` +
            `UploadPart ${perRun(during('UploadPart', 'requests'))} requests, ${perRunBytes(during('UploadPart', 'bytesIn'))}; ` +
            `GetObject ${perRun(during('GetObject', 'requests'))} requests, ${perRunBytes(during('GetObject', 'bytesOut'))} out (the SHA-256 read-back of the final object, plus the .info metadata reads); ` +
            `PutObject ${perRun(during('PutObject', 'requests'))} requests, ${perRunBytes(during('PutObject', 'bytesIn'))} in (.info metadata objects, not data).`,
          `Cross-check from the Tessera process's own counters (/proc/<pid>/io: every socket and file, all threads) during the final POST: written ${perRunBytes(io.map((x) => x.written))}, read ${perRunBytes(io.map((x) => x.read))} (the read-back).`,
          `Totals over all timed assemblies: ${formatBytes(sum(during('UploadPartCopy', 'bytesCopied')))} copied inside S3, ${formatBytes(sum(during('UploadPart', 'bytesIn')))} of parts uploaded through Tessera.`,
        ],
      };
    } finally {
      agent.destroy();
      client.destroy();
      await tessera?.stop();
      await relay?.stop();
      await s3.stop();
    }
  },
};

/** The upload really landed: the object in the bucket has the size, and Tessera says complete (and the right digest, if it reports one). */
async function verify(client: S3, result: { key: string; url?: string }, file: DataFile): Promise<void> {
  const stored = await objectSize(client, BUCKET, result.key);
  if (stored !== file.size) throw new Error(`object ${result.key}: ${stored ?? 'missing'} bytes in the bucket, expected ${file.size}`);
  if (result.url) await expectComplete(result.url, file.size, file.sha256);
}

/** Exact below 1 MiB (a "0 B" must be exact); MiB with one decimal above. */
function formatBytes(n: number): string {
  return n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : `${n.toLocaleString('en-US')} B`;
}
