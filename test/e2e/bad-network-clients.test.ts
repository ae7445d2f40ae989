import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { DefaultHttpStack, Upload, type UploadOptions } from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retryOnChecksumMismatch, withChecksum, type ChunkSizeChange } from '../../src/client/index.js';
import { runCli, spawnCli } from '../support/cli.js';
import { startHostileProxy, type HostileProxy } from '../support/hostile-proxy.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';

const MiB = 1024 * 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * Issue #21, items 1 and 2: Tessera's own clients on a link that resets connections more often
 * than a chunk's size, or that goes silent. The link is a real TCP proxy between the client and
 * the server (test/support/hostile-proxy.ts). Before: with per-chunk checksums the server
 * rightly discards every chunk cut short, and each retry resent the same whole chunk, so the
 * CLI exited 4 with nothing stored; on a silent connection every client waited forever.
 */
describe('clients on a bad network', () => {
  let server: RunningTessera;
  let proxy: HostileProxy;
  let work: string;
  beforeAll(async () => {
    // A PATCH whose client went silent holds the upload's lock until the server gives it up:
    // quickly here, so the client's HEAD after a stall is answered at once.
    server = await startTessera({ lockDrainTimeoutMs: 200 });
    const { port } = new URL(server.baseUrl);
    proxy = await startHostileProxy({ host: '127.0.0.1', port: Number(port) });
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-bad-network-'));
  });
  afterAll(async () => {
    await proxy.stop();
    await server.stop();
    await fs.rm(work, { recursive: true, force: true });
  });

  const endpoint = () => `${proxy.url}/files`;
  const stored = async (url: string) => sha256(await fs.readFile(path.join(server.dataDir, decodeURIComponent(new URL(url).pathname.split('/').pop() ?? ''))));
  let files = 0;
  const makeFile = async (size: number) => {
    const data = randomBytes(size);
    const file = path.join(work, `file-${(files += 1)}.bin`);
    await fs.writeFile(file, data);
    return { file, data };
  };
  const cliArgs = (file: string, ...extra: string[]) => ['upload', file, '--endpoint', endpoint(), '--state-dir', path.join(work, 'state'), '--json', ...extra];

  it('the CLI with --checksum finishes through resets every 1.5 MiB with 8 MiB chunks, saying it sends smaller chunks, within 3× the file in traffic', async () => {
    const { file, data } = await makeFile(8 * MiB);
    proxy.setFault({ kind: 'reset-every', bytes: 1.5 * MiB });
    const before = proxy.stats;
    const result = await runCli(cliArgs(file, '--checksum', 'sha256', '--chunk-size', '8MiB'), { home: work });
    proxy.setFault({ kind: 'none' });
    expect(result.code, result.stderr).toBe(0);
    const done = result.events.find((e) => e.event === 'done');
    expect(await stored(String(done?.url))).toBe(sha256(data));
    const smaller = result.events.filter((e) => e.event === 'chunk-size' && e.reason === 'cut-short');
    expect(smaller.length).toBeGreaterThan(0);
    expect(String(smaller[0]?.message)).toMatch(/^a chunk was cut short on the way: now sending [\d.]+ [KM]iB chunks$/);
    expect(proxy.stats.resets - before.resets).toBeGreaterThan(0);
    expect(proxy.stats.bytesUp - before.bytesUp).toBeLessThan(3 * data.length);
  });

  it('the CLI notices a connection gone silent mid-chunk, reconnects and finishes (--stall-timeout)', async () => {
    const { file, data } = await makeFile(8 * MiB);
    // Each connection goes silent after 3 MiB: the 8 MiB chunk never ends on its own.
    proxy.setFault({ kind: 'stall-after', bytes: 3 * MiB });
    const before = proxy.stats.stalls;
    const run = spawnCli(cliArgs(file, '--chunk-size', '8MiB', '--stall-timeout', '1s'), { home: work });
    // Mid-body (no progress), or with the whole chunk in the kernel's buffers (no answer in 4 × 1 s).
    const retry = await run.waitForEvent((e) => e.event === 'retry' && /no (progress|answer) for/.test(String(e.reason)), 30_000);
    expect(String(retry.message)).toMatch(/after: no (progress for 1 s \(PATCH\): the connection stalled|answer for 4 s after the request was sent \(PATCH\))$/);
    const { code } = await run.exited;
    proxy.setFault({ kind: 'none' });
    expect(code, run.stderr()).toBe(0);
    expect(proxy.stats.stalls - before).toBeGreaterThan(0);
    const done = run.events.find((e) => e.event === 'done');
    expect(await stored(String(done?.url))).toBe(sha256(data));
  });

  it('tus-js-client with the withChecksum helper (its defaults but a 1 s stall timeout) finishes through the same resets, and through a silent connection', async () => {
    for (const fault of [{ kind: 'reset-every', bytes: 1.5 * MiB }, { kind: 'stall-after', bytes: 3 * MiB }] as const) {
      const data = randomBytes(8 * MiB);
      proxy.setFault(fault);
      const changes: ChunkSizeChange[] = [];
      const url = await new Promise<string>((resolve, reject) => {
        const upload = new Upload(data, {
          endpoint: endpoint(),
          chunkSize: 8 * MiB,
          httpStack: withChecksum(new DefaultHttpStack({}), {
            algorithm: 'sha256',
            stallTimeoutMs: 1000,
            adaptiveChunks: { onChunkSizeChange: (change) => changes.push(change) },
          }),
          onShouldRetry: (err) => retryOnChecksumMismatch(err),
          // The README's delays are longer (they ride out a minute of outage); the test's link is back at once.
          retryDelays: [0, 200, 500, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
          onSuccess: () => resolve(upload.url ?? ''),
          onError: reject,
        });
        upload.start();
      });
      proxy.setFault({ kind: 'none' });
      expect(await stored(url), fault.kind).toBe(sha256(data));
      expect(changes.some((c) => c.reason !== 'recovered'), fault.kind).toBe(true);
    }
  });

  /** One tus-js-client upload through the proxy with withChecksum; resolves to its URL and the chunk-size changes. */
  const tusUpload = (input: unknown, options: Partial<UploadOptions>) => {
    const changes: ChunkSizeChange[] = [];
    const done = new Promise<string>((resolve, reject) => {
      const upload = new Upload(input as Buffer, {
        endpoint: endpoint(),
        httpStack: withChecksum(new DefaultHttpStack({}), { algorithm: 'crc32', stallTimeoutMs: 1000, adaptiveChunks: { onChunkSizeChange: (c) => changes.push(c) } }),
        onShouldRetry: (err) => retryOnChecksumMismatch(err),
        retryDelays: [0, 200, 500, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
        ...options,
        onSuccess: () => resolve(upload.url ?? ''),
        onError: reject,
      });
      upload.start();
    });
    return { done, changes };
  };

  it('a deferred-length upload (a stream of unknown size) finishes through resets: its last chunk, which declares Upload-Length, is cut without the declaration, which the rest makes again', async () => {
    const data = randomBytes(3 * MiB + 100_000);
    proxy.setFault({ kind: 'reset-every', bytes: 700 * 1024 });
    const pieces = Array.from({ length: Math.ceil(data.length / 65536) }, (_, i) => data.subarray(i * 65536, (i + 1) * 65536));
    // Before: the shortened last chunk declared the length, and the rest declared it again: 400.
    const { done, changes } = tusUpload(Readable.from(pieces, { objectMode: false }), { chunkSize: MiB, uploadLengthDeferred: true });
    const url = await done;
    proxy.setFault({ kind: 'none' });
    expect(await stored(url)).toBe(sha256(data));
    expect(changes.some((c) => c.reason === 'cut-short')).toBe(true);
  });

  it('a file given as an fs.ReadStream gets smaller chunks too, and finishes through resets', async () => {
    const { file, data } = await makeFile(3 * MiB);
    proxy.setFault({ kind: 'reset-every', bytes: 700 * 1024 });
    // Before: its chunks are file streams the layer could not cut; every retry resent 1 MiB whole.
    const { done, changes } = tusUpload(createReadStream(file), { chunkSize: MiB });
    const url = await done;
    proxy.setFault({ kind: 'none' });
    expect(await stored(url)).toBe(sha256(data));
    expect(changes.some((c) => c.reason === 'cut-short')).toBe(true);
  });

  it('a server that takes its time to answer the last PATCH (a hook, the verification) is no stall: the CLI waits for the answer', async () => {
    const slow = await startTessera(
      {},
      {
        hooks: {
          onUploadFinish: async () => {
            // Longer than the stall timeout (1 s), shorter than the answer timeout (4 × 1 s).
            await new Promise((resolve) => setTimeout(resolve, 2_500));
            return {};
          },
        },
      },
    );
    try {
      const { file, data } = await makeFile(2 * MiB);
      const result = await runCli(['upload', file, '--endpoint', slow.endpoint, '--state-dir', path.join(work, 'state'), '--json', '--stall-timeout', '1s'], { home: work });
      // Before: the last PATCH was given up after 1 s, and so was each HEAD waiting on the lock (exit 4).
      expect(result.code, result.stderr).toBe(0);
      expect(result.events.filter((e) => e.event === 'retry')).toEqual([]);
      const done = result.events.find((e) => e.event === 'done');
      expect(sha256(await fs.readFile(path.join(slow.dataDir, decodeURIComponent(new URL(String(done?.url)).pathname.split('/').pop() ?? ''))))).toBe(sha256(data));
    } finally {
      await slow.stop();
    }
  });
});
