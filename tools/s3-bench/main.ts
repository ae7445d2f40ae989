import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { S3 } from '@aws-sdk/client-s3';
import * as tus from 'tus-js-client';
import { withChecksum } from '../../src/client/index.js';
import { freePort } from '../processes/ports.js';
import { startS3Server, type S3ServerProcess } from '../processes/s3-server.js';
import { startTesseraInstance } from '../processes/tessera-instance.js';

/**
 * S3 measurements (not a test): against one S3-compatible test server process,
 *   1. a direct PutObject stream of the file (the baseline),
 *   2. the same file through Tessera in one PATCH (plain tus),
 *   3. the same file in 8 MiB checksummed PATCHes (all-or-nothing staging on S3),
 *   4. tus-js-client parallelUploads: 4 with a sha256, assembled inside S3,
 * reporting throughput, CPU seconds per process (S3 server, Tessera, this client: on a
 * small machine they compete for the same cores) and, for 4, the bytes the assembly moved
 * through Tessera.
 *
 *   npx tsx tools/s3-bench/main.ts [--size-mib 256] [--runs 3]
 */
const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const MiB = 1024 * 1024;
const size = option('size-mib', 256) * MiB;
const runs = option('runs', 3);
const BUCKET = 'tessera-bench';

type Stats = Awaited<ReturnType<S3ServerProcess['stats']>>;
const diff = (a: Stats, b: Stats, op: string, field: 'bytesIn' | 'bytesOut' | 'bytesCopied' | 'requests') =>
  (b[op]?.[field] ?? 0) - (a[op]?.[field] ?? 0);
const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;

const s3 = await startS3Server({ buckets: [BUCKET] });
const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-s3-bench-'));
const port = await freePort();
const tessera = await startTesseraInstance(port, {
  DATA_DIR: dataDir,
  LOG_LEVEL: 'warn',
  WEB_UI: 'false',
  S3_BUCKET: BUCKET,
  S3_ENDPOINT: s3.endpoint,
  S3_REGION: s3.region,
  S3_FORCE_PATH_STYLE: 'true',
  // The SDK reads these itself, as in production.
  AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
  AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
});
const endpoint = `${tessera.baseUrl}/files`;
const client = new S3({
  endpoint: s3.endpoint,
  region: s3.region,
  credentials: s3.credentials,
  forcePathStyle: true,
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});

/** Empties the bucket between runs so the S3 server's disk use stays flat. */
async function emptyBucket(): Promise<void> {
  for (const upload of (await client.listMultipartUploads({ Bucket: BUCKET })).Uploads ?? []) {
    await client.abortMultipartUpload({ Bucket: BUCKET, Key: upload.Key, UploadId: upload.UploadId });
  }
  const keys = ((await client.listObjectsV2({ Bucket: BUCKET })).Contents ?? []).map((o) => ({ Key: o.Key }));
  if (keys.length > 0) await client.deleteObjects({ Bucket: BUCKET, Delete: { Objects: keys, Quiet: true } });
}

function tusUpload(source: Buffer, options: Partial<tus.UploadOptions>): Promise<string> {
  return new Promise((resolve, reject) => {
    const upload = new tus.Upload(source, {
      endpoint,
      retryDelays: [],
      ...options,
      onSuccess: () => resolve(upload.url ?? ''),
      onError: reject,
    });
    upload.start();
  });
}

const source = randomBytes(size);
const digest = createHash('sha256').update(source).digest('hex');
const results: Record<string, number[]> = { putObject: [], tusPlain: [], tusChecksummed: [], parallel: [], assembly: [], readBack: [] };
/** CPU seconds [S3 server, Tessera, client] per case, summed over runs. */
const cpuUse: Record<string, number[]> = {};
const cpuOf = (pid: number) => {
  // utime + stime, fields 14 and 15 of /proc/<pid>/stat, in clock ticks (100 Hz).
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
};
const cpuNow = () => {
  const own = process.cpuUsage();
  return [cpuOf(s3.pid), cpuOf(tessera.child.pid ?? 0), (own.user + own.system) / 1e6];
};
/** Runs `fn`, adding the CPU each process spent on it to `cpuUse[name]`; resolves to the wall time in ms. */
async function measured(name: string, fn: () => Promise<unknown>): Promise<number> {
  const before = cpuNow();
  const started = performance.now();
  await fn();
  const ms = performance.now() - started;
  const after = cpuNow();
  cpuUse[name] = after.map((v, i) => (cpuUse[name]?.[i] ?? 0) + v - (before[i] ?? 0));
  return ms;
}
let assemblyBytes: Record<string, number> = {};

try {
  for (let run = 0; run < runs; run += 1) {
    const direct = () => client.putObject({ Bucket: BUCKET, Key: `direct-${run}`, Body: Readable.from([source]), ContentLength: size });
    results.putObject?.push(mbps(size, await measured('putObject', direct)));
    await emptyBucket();

    results.tusPlain?.push(mbps(size, await measured('tusPlain', () => tusUpload(source, { metadata: { filename: 'plain.bin' } }))));
    await emptyBucket();

    const checksummed = () =>
      tusUpload(source, { chunkSize: 8 * MiB, httpStack: withChecksum(new tus.DefaultHttpStack({}), { algorithm: 'sha256' }) });
    results.tusChecksummed?.push(mbps(size, await measured('tusChecksummed', checksummed)));
    await emptyBucket();

    let before: Stats | undefined;
    let finalStarted = 0;
    let finalEnded = 0;
    const parallelMs = await measured('parallel', () => tusUpload(source, {
      parallelUploads: 4,
      metadata: { filename: 'parallel.bin', sha256: digest },
      onBeforeRequest: async (req) => {
        if (req.getMethod() === 'POST' && req.getHeader('Upload-Concat')?.startsWith('final')) {
          before = await s3.stats();
          finalStarted = performance.now();
        }
      },
      onAfterResponse: (req) => {
        if (req.getMethod() === 'POST' && req.getHeader('Upload-Concat')?.startsWith('final')) finalEnded = performance.now();
      },
    }));
    results.parallel?.push(mbps(size, parallelMs));
    results.assembly?.push(finalEnded - finalStarted);
    const after = await s3.stats();
    if (before) {
      assemblyBytes = {
        uploadedByTessera: diff(before, after, 'UploadPart', 'bytesIn') + diff(before, after, 'PutObject', 'bytesIn'),
        uploadPartRequests: diff(before, after, 'UploadPart', 'requests'),
        copiedInsideS3: diff(before, after, 'UploadPartCopy', 'bytesCopied'),
        uploadPartCopyRequests: diff(before, after, 'UploadPartCopy', 'requests'),
        readBackForSha256: diff(before, after, 'GetObject', 'bytesOut'),
      };
    }
    // What the verification inside the assembly costs: one streaming GET of the final object, hashed.
    const finalKey = ((await client.listObjectsV2({ Bucket: BUCKET })).Contents ?? []).find((o) => o.Size === size && !o.Key?.includes('.'))?.Key;
    if (finalKey) {
      const readStarted = performance.now();
      const hash = createHash('sha256');
      for await (const chunk of (await client.getObject({ Bucket: BUCKET, Key: finalKey })).Body as Readable) hash.update(chunk as Buffer);
      results.readBack?.push(performance.now() - readStarted);
      if (hash.digest('hex') !== digest) throw new Error('the final object does not hash to the source');
    }
    await emptyBucket();
    process.stderr.write(`run ${run + 1}/${runs} done\n`);
  }

  const base = median(results.putObject ?? []);
  const perGiB = (key: string) =>
    (cpuUse[key] ?? []).map((seconds) => (seconds / runs / (size / 1024 ** 3)).toFixed(1).padStart(5)).join(' ');
  const line = (name: string, key: string) => {
    const values = results[key] ?? [];
    return `${name.padEnd(44)} ${median(values).toFixed(0).padStart(6)} MB/s  ${(median(values) / base).toFixed(2)}×  CPU s/GiB [S3 Tessera client] ${perGiB(key)}  (runs: ${values.map((v) => v.toFixed(0)).join(', ')})`;
  };
  process.stdout.write(
    [
      `S3 measurements: ${size / MiB} MiB, ${runs} runs, medians; S3 = tools/s3-server process on 127.0.0.1; ${os.cpus().length} cores, load average ${os.loadavg()[0]?.toFixed(1)} at the end`,
      line('direct PutObject stream (baseline)', 'putObject'),
      line('tus, one PATCH (plain)', 'tusPlain'),
      line('tus, 8 MiB PATCHes with Upload-Checksum', 'tusChecksummed'),
      line('tus-js-client parallelUploads: 4 + sha256', 'parallel'),
      `server-side assembly (final POST, incl. SHA-256 read-back): ${median(results.assembly ?? []).toFixed(0)} ms median; ` +
        `a streaming GET + SHA-256 of the final object alone: ${median(results.readBack ?? []).toFixed(0)} ms median`,
      `bytes during assembly (last run): ${JSON.stringify(assemblyBytes)}`,
      '',
    ].join('\n'),
  );
} finally {
  await tessera.kill();
  await s3.stop();
  await fs.rm(dataDir, { recursive: true, force: true });
}
