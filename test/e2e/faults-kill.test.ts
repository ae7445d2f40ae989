import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../tools/processes/ports.js';
import { startTesseraInstance, type TesseraInstance } from '../../tools/processes/tessera-instance.js';
import { digestOf } from '../support/bytes.js';
import { sha256Hex } from '../support/concat.js';
import { storedBytes, storedSize } from '../support/fault-files.js';
import { controlledPatch } from '../support/fault-http.js';
import { resumeWithTusJs } from '../support/fault-tus-js.js';
import { waitFor } from '../support/fault-wait.js';
import { create, head, patch, randomData } from '../support/tus-http.js';

/**
 * The server process is killed with SIGKILL (no shutdown code runs) in the middle of a
 * PATCH and in the middle of assembling a big final, then started again on the same data
 * dir. Nothing may be reported complete with wrong bytes, the reported offset never
 * exceeds what is stored, and the client can always resume or retry.
 */

const MiB = 1024 * 1024;
let dataDir: string;
let instance: TesseraInstance;
let endpoint: string;

beforeAll(async () => {
  dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tessera-kill-'));
  instance = await startTesseraInstance(await freePort(), { DATA_DIR: dataDir, LOG_LEVEL: 'warn' });
  endpoint = `${instance.baseUrl}/files`;
}, 60_000);
afterAll(async () => {
  await instance?.kill('SIGKILL');
  await fsp.rm(dataDir, { recursive: true, force: true });
});

/** Kills the server (SIGKILL) and starts it again on the same port and data dir. */
async function crashAndRestart(): Promise<void> {
  await instance.kill('SIGKILL');
  await instance.restart();
}

/** What HEAD reports, checked against the bytes on disk. */
async function reportedOffset(url: string): Promise<number> {
  const res = await head(url);
  expect(res.status).toBe(200);
  const offset = Number(res.headers.get('upload-offset'));
  expect(offset).toBeLessThanOrEqual(await storedSize(dataDir, url));
  return offset;
}

async function sha256OfFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 4 * MiB })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

describe('kill -9 mid-PATCH', () => {
  it('keeps what was stored, reports no more, and the client resumes to a verified file', async () => {
    const source = randomData(8 * MiB);
    const digest = sha256Hex(source);
    const { url } = await create(endpoint, { length: source.length, metadata: { sha256: digest } });
    const cut = controlledPatch(url, 0, source.length);
    await cut.send(source.subarray(0, 3 * MiB));
    await waitFor('3 MiB stored', async () => ((await storedSize(dataDir, url)) >= 3 * MiB ? true : undefined));

    await crashAndRestart();
    expect((await cut.answer).status).toBe(0); // the connection died with the server

    const offset = await reportedOffset(url);
    expect(offset).toBeGreaterThanOrEqual(3 * MiB);
    expect(digestOf(await storedBytes(dataDir, url))).toBe(digestOf(source.subarray(0, offset)));
    expect((await head(url)).headers.get('tessera-upload-status')).not.toBe('done');

    expect(await resumeWithTusJs(source, url)).toBe(url);
    const done = await head(url);
    expect(done.headers.get('tessera-sha256')).toBe(digest);
    expect(digestOf(await storedBytes(dataDir, url))).toBe(digestOf(source));
  });

  it('with Upload-Checksum: the unverified part of the chunk is never counted, and the client resumes from the last verified byte', async () => {
    const source = randomData(6 * MiB);
    const digest = sha256Hex(source);
    const first = source.subarray(0, 2 * MiB);
    const rest = source.subarray(2 * MiB);
    const checksum = (data: Buffer) => `sha256 ${createHash('sha256').update(data).digest('base64')}`;
    const { url } = await create(endpoint, { length: source.length, metadata: { sha256: digest } });
    expect((await patch(url, 0, first, { 'Upload-Checksum': checksum(first) })).status).toBe(204);
    const cut = controlledPatch(url, first.length, rest.length, { 'Upload-Checksum': checksum(rest) });
    await cut.send(rest.subarray(0, MiB));
    await waitFor('3 MiB stored', async () => ((await storedSize(dataDir, url)) >= 3 * MiB ? true : undefined));

    await crashAndRestart();
    await cut.answer;

    // The bytes of the cut chunk reached the disk, but were never verified: not reported.
    expect(await storedSize(dataDir, url)).toBeGreaterThanOrEqual(3 * MiB);
    expect(await reportedOffset(url)).toBe(first.length);
    // A PATCH from there replaces them (shorter than what was left, so the tail must go too).
    const next = rest.subarray(0, 512 * 1024);
    const resumed = await patch(url, first.length, next, { 'Upload-Checksum': checksum(next) });
    expect(resumed.status).toBe(204);
    expect(await storedSize(dataDir, url)).toBe(first.length + next.length);
    expect(digestOf(await storedBytes(dataDir, url))).toBe(digestOf(source.subarray(0, first.length + next.length)));

    expect(await resumeWithTusJs(source, url)).toBe(url);
    expect((await head(url)).headers.get('tessera-sha256')).toBe(digest);
    expect(fs.readdirSync(dataDir).filter((name) => name.endsWith('.unverified'))).toEqual([]);
  });

  it('during a chunk without a checksum after such a crash: the unverified bytes are dropped first', async () => {
    const source = randomData(4 * MiB);
    const first = source.subarray(0, MiB);
    const checksum = (data: Buffer) => `sha256 ${createHash('sha256').update(data).digest('base64')}`;
    const { url } = await create(endpoint, { length: source.length });
    expect((await patch(url, 0, first, { 'Upload-Checksum': checksum(first) })).status).toBe(204);
    const cut = controlledPatch(url, MiB, 3 * MiB, { 'Upload-Checksum': checksum(source.subarray(MiB)) });
    await cut.send(source.subarray(MiB, 3 * MiB));
    await waitFor('3 MiB stored', async () => ((await storedSize(dataDir, url)) >= 3 * MiB ? true : undefined));
    await crashAndRestart();
    await cut.answer;

    expect(await reportedOffset(url)).toBe(MiB);
    const plain = source.subarray(MiB, MiB + 1000);
    const res = await patch(url, MiB, plain);
    expect(res.status).toBe(204);
    expect(res.headers.get('upload-offset')).toBe(String(MiB + 1000));
    expect(digestOf(await storedBytes(dataDir, url))).toBe(digestOf(source.subarray(0, MiB + 1000)));
  });
});

describe('kill -9 mid-assembly of a 4 × 64 MiB final', () => {
  it('never reports the final done with wrong bytes; the recovery pass or a retried POST completes it', async () => {
    const parts = [0, 1, 2, 3].map(() => randomData(64 * MiB));
    const whole = createHash('sha256');
    for (const part of parts) whole.update(part);
    const digest = whole.digest('hex');
    const total = 256 * MiB;

    const urls: string[] = [];
    for (const part of parts) {
      const { res, url } = await create(endpoint, { length: part.length, headers: { 'Upload-Concat': 'partial' } });
      expect(res.status).toBe(201);
      expect((await patch(url, 0, part)).status).toBe(204);
      urls.push(url);
    }
    const finalHeaders = { 'Upload-Concat': `final;${urls.join(' ')}`, 'Upload-Metadata': `sha256 ${Buffer.from(digest).toString('base64')}` };
    const firstTry = fetch(endpoint, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', ...finalHeaders } }).then(
      (r) => r.status,
      () => 0,
    );

    // The final is assembled into a temp file (renamed over the final's at the end): kill while
    // that file grows.
    const assemblyDir = path.join(dataDir, '.tessera-assembly');
    const temp = await waitFor(
      'the assembly to start writing',
      async () => {
        for (const name of await fsp.readdir(assemblyDir)) {
          if ((await fsp.stat(path.join(assemblyDir, name)).catch(() => undefined))?.size) return name;
        }
        return undefined;
      },
      60_000,
      5,
    );
    await instance.kill('SIGKILL');
    const finalId = temp.split('.')[0] as string;
    const sizeAtKill = (await fsp.stat(path.join(assemblyDir, temp))).size;
    expect(sizeAtKill, 'the kill must land while the final is being assembled').toBeLessThan(total);
    // The final itself is untouched by a half-done assembly.
    expect((await fsp.stat(path.join(dataDir, finalId))).size).toBe(0);
    expect(await firstTry).toBe(0);
    await instance.restart();
    const finalUrl = `${endpoint}/${finalId}`;

    // Either still pending (the recovery pass may not have reached it) or done with the right
    // digest; never done and wrong.
    const look = await head(finalUrl);
    expect(look.status).toBe(200);
    const status = look.headers.get('tessera-upload-status');
    expect(['pending', 'done']).toContain(status);
    if (status === 'pending') expect(look.headers.get('upload-offset')).toBeNull();
    else expect(look.headers.get('tessera-sha256')).toBe(digest);

    // The client retries its final POST: it finds the same final, complete and verified.
    const retry = await fetch(endpoint, { method: 'POST', headers: { 'Tus-Resumable': '1.0.0', ...finalHeaders } });
    expect(retry.status).toBe(201);
    expect(new URL(retry.headers.get('location') ?? '', endpoint).toString()).toBe(finalUrl);
    expect(retry.headers.get('tessera-sha256')).toBe(digest);
    const done = await head(finalUrl);
    expect(done.headers.get('tessera-upload-status')).toBe('done');
    expect(Number(done.headers.get('upload-offset'))).toBe(total);
    expect(await storedSize(dataDir, finalUrl)).toBe(total);
    expect(await sha256OfFile(path.join(dataDir, finalId))).toBe(digest);
    // The next assembly of the final cleared what the crash left.
    expect(await fsp.readdir(assemblyDir)).toEqual([]);
  }, 120_000);
});
