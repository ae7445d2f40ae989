import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../support/cli.js';
import { bucketContents, newBucket, S3_BACKENDS, s3ClientFor, startS3Backend, startTesseraOnS3, type S3ServerProcess } from '../support/s3.js';
import type { RunningTessera } from '../support/tessera.js';
import { head } from '../support/tus-http.js';
import { gate } from '../support/hook-receiver.js';

const MiB = 1024 * 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * Issue #18: `tessera upload --direct` sends a file straight into S3 as presigned parts, each
 * signed with its MD5. A part damaged on the way (a byte flipped by the fault proxy between the
 * CLI and S3) is refused by S3 itself (BadDigest) and sent again; the run ends verified.
 */
describe.each(S3_BACKENDS)('tessera upload --direct (%s)', (backend) => {
  let s3: S3ServerProcess;
  let bucket: string;
  let server: RunningTessera;
  let home: string;

  beforeAll(async () => {
    s3 = await startS3Backend(backend);
    bucket = await newBucket(s3ClientFor(s3), 'cli-direct');
    server = await startTesseraOnS3(s3, bucket, { s3Direct: { partUrlTtlMs: 300_000 } });
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-cli-direct-'));
  }, 180_000);
  afterAll(async () => {
    await server?.stop();
    await s3?.stop();
    if (home) await fs.rm(home, { recursive: true, force: true });
  });

  it('uploads in 5 MiB parts, a part damaged on the way is refused by S3 and resent, and the run ends verified', { timeout: 120_000 }, async () => {
    const data = randomBytes(12 * MiB + 777);
    const file = path.join(home, 'direct.bin');
    await fs.writeFile(file, data);
    const before = (await s3.stats()).UploadPart?.requests ?? 0;
    await s3.failNext('UploadPart', 1, { mode: 'flip', part: 2 });
    const result = await runCli(['upload', file, '--endpoint', server.endpoint, '--direct', '--chunk-size', '5MiB', '--json', '--retries', '3'], { home });
    expect(result.code, result.stderr).toBe(0);
    const done = result.events.find((e) => e.event === 'done') as { url: string; sha256: string } | undefined;
    expect(done?.sha256).toBe(sha256(data));
    const retry = result.events.find((e) => e.event === 'retry') as { reason?: string; status?: number } | undefined;
    expect(retry?.reason).toMatch(/S3 refused part 2: 400 BadDigest/);
    // Three parts, one of them twice.
    expect(((await s3.stats()).UploadPart?.requests ?? 0) - before).toBe(4);
    const status = await head(done?.url ?? '');
    expect(status.headers.get('tessera-upload-status')).toBe('done');
    expect(status.headers.get('tessera-sha256')).toBe(sha256(data));
    expect(Buffer.from(await (await fetch(done?.url ?? '')).arrayBuffer()).equals(data)).toBe(true);
    expect((await bucketContents(s3ClientFor(s3), bucket)).uploads).toEqual([]);
  });

  it('an interrupted run resumes: only the parts S3 does not hold are sent again', { timeout: 120_000 }, async () => {
    const data = randomBytes(15 * MiB);
    const file = path.join(home, 'resumed.bin');
    await fs.writeFile(file, data);
    // The third part keeps failing: the first run gives up after its retries, with two parts in S3.
    await s3.failNext('UploadPart', 2, { part: 3 });
    const first = await runCli(['upload', file, '--endpoint', server.endpoint, '--direct', '--chunk-size', '5MiB', '--json', '--retries', '1'], { home });
    expect(first.code).not.toBe(0);
    const before = (await s3.stats()).UploadPart?.requests ?? 0;
    const second = spawnCli(['upload', file, '--endpoint', server.endpoint, '--direct', '--chunk-size', '5MiB', '--json'], { home });
    const { code } = await second.exited;
    expect(code, second.stderr()).toBe(0);
    expect(second.events.find((e) => e.event === 'resume')?.message).toBe('resuming the direct upload: S3 holds 10.0 MiB of this file');
    expect(((await s3.stats()).UploadPart?.requests ?? 0) - before).toBe(1);
    const done = second.events.find((e) => e.event === 'done') as unknown as { url: string; sha256: string };
    expect(done.sha256).toBe(sha256(data));
    expect(Buffer.from(await (await fetch(done.url)).arrayBuffer()).equals(data)).toBe(true);
  });
});

describe('tessera upload --direct: runs that end oddly (test S3 server)', () => {
  let s3: S3ServerProcess;
  let server: RunningTessera;
  let home: string;
  const finished: string[] = [];
  let hold: ReturnType<typeof gate> | undefined;
  let reached: ReturnType<typeof gate> | undefined;

  beforeAll(async () => {
    s3 = await startS3Backend('s3-test-server');
    server = await startTesseraOnS3(s3, await newBucket(s3ClientFor(s3), 'cli-direct-odd'), { s3Direct: { partUrlTtlMs: 300_000 } }, {
      hooks: {
        onUploadFinish: async (_req, upload) => {
          finished.push(upload.id);
          reached?.open();
          await hold?.opened;
          return {};
        },
      },
    });
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-cli-direct-odd-'));
  });
  afterAll(async () => {
    hold?.open();
    await server?.stop();
    await s3?.stop();
    if (home) await fs.rm(home, { recursive: true, force: true });
  });

  it('a run killed after the server completed the upload (before it heard so) is not uploaded again by the next run', { timeout: 120_000 }, async () => {
    const data = randomBytes(11 * MiB);
    const file = path.join(home, 'done-once.bin');
    await fs.writeFile(file, data);
    hold = gate();
    reached = gate();
    const first = spawnCli(['upload', file, '--endpoint', server.endpoint, '--direct', '--chunk-size', '5MiB', '--json'], { home });
    await reached.opened;
    first.child.kill('SIGKILL');
    await first.exited;
    hold.open();
    const firstKey = finished[0] ?? '';
    expect((await head(`${server.endpoint}/${firstKey}`)).headers.get('tessera-upload-status')).toBe('done');
    const before = (await s3.stats()).UploadPart?.requests ?? 0;
    const second = await runCli(['upload', file, '--endpoint', server.endpoint, '--direct', '--chunk-size', '5MiB', '--json'], { home });
    expect(second.code, second.stderr).toBe(0);
    expect(((await s3.stats()).UploadPart?.requests ?? 0) - before).toBe(0);
    expect((second.events.find((e) => e.event === 'done') as { url?: string } | undefined)?.url).toBe(`${server.endpoint}/${firstKey}`);
    expect(finished).toEqual([firstKey]);
  });

  it('a run resumed with another --chunk-size starts over instead of failing on every run', { timeout: 120_000 }, async () => {
    const data = randomBytes(15 * MiB);
    const file = path.join(home, 'rechunked.bin');
    await fs.writeFile(file, data);
    await s3.failNext('UploadPart', 2, { part: 2 });
    const first = await runCli(['upload', file, '--endpoint', server.endpoint, '--direct', '--chunk-size', '5MiB', '--parallel', '3', '--json', '--retries', '1'], { home });
    expect(first.code).not.toBe(0);
    const second = await runCli(['upload', file, '--endpoint', server.endpoint, '--direct', '--chunk-size', '8MiB', '--json'], { home });
    expect(second.code, second.stderr).toBe(0);
    const done = second.events.find((e) => e.event === 'done') as { url?: string } | undefined;
    expect(Buffer.from(await (await fetch(done?.url ?? '')).arrayBuffer()).equals(data)).toBe(true);
  });
});
