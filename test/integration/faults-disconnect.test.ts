import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../support/bytes.js';
import { storedBytes, storedSize } from '../support/fault-files.js';
import { controlledPatch, controlledUpload } from '../support/fault-http.js';
import { snapshotDir } from '../support/fault-snapshot.js';
import { resumeWithTusJs } from '../support/fault-tus-js.js';
import { waitFor } from '../support/fault-wait.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, offsetOf, patch, randomData } from '../support/tus-http.js';

/**
 * A client that loses its connection in the middle of a PATCH body. Afterwards the offset
 * the server reports is exactly what it stored (never more), the stored bytes are the
 * client's, and the client resumes from there to a byte-identical file.
 */

const MiB = 1024 * 1024;
let server: RunningTessera;

beforeAll(async () => {
  server = await startTessera();
});
afterAll(() => server.stop());

const sha1 = (data: Buffer) => `sha1 ${createHash('sha1').update(data).digest('base64')}`;

/** Starts a PATCH of `body` at `offset`, sends `sent` bytes, waits until the server stored them, and drops the connection. */
async function disconnectMidPatch(url: string, offset: number, body: Buffer, sent: number, headers: Record<string, string> = {}) {
  const cut = controlledPatch(url, offset, body.length, headers);
  await cut.send(body.subarray(0, sent));
  await waitFor('the server to store the first bytes', async () =>
    (await storedSize(server.dataDir, url)) >= offset + sent ? true : undefined,
  );
  cut.disconnect();
  return cut.answer;
}

describe('client disconnect mid-PATCH', () => {
  it('without a checksum: the bytes that arrived are kept, the offset equals them, and the client resumes', async () => {
    const source = randomData(4 * MiB);
    const { url } = await create(server.endpoint, { length: source.length });
    await disconnectMidPatch(url, 0, source, MiB + 12_345);

    // HEAD takes the upload's lock, so it answers once the cut request has unwound.
    const offset = await offsetOf(url);
    expect(offset).toBeGreaterThanOrEqual(MiB + 12_345);
    expect(offset).toBeLessThan(source.length);
    const kept = await storedBytes(server.dataDir, url);
    expect(kept.length).toBe(offset);
    expect(digestOf(kept)).toBe(digestOf(source.subarray(0, offset)));

    expect(await resumeWithTusJs(source, url)).toBe(url);
    expect(digestOf(await storedBytes(server.dataDir, url))).toBe(digestOf(source));
  });

  it('with Upload-Checksum: the unverified chunk is discarded, the offset returns to the last verified byte', async () => {
    const source = randomData(3 * MiB);
    const first = source.subarray(0, MiB);
    const second = source.subarray(MiB);
    const { url } = await create(server.endpoint, { length: source.length });
    expect((await patch(url, 0, first, { 'Upload-Checksum': sha1(first) })).status).toBe(204);

    await disconnectMidPatch(url, MiB, second, MiB / 2, { 'Upload-Checksum': sha1(second) });

    expect(await offsetOf(url)).toBe(MiB);
    expect(digestOf(await storedBytes(server.dataDir, url))).toBe(digestOf(first));
    const resumed = await patch(url, MiB, second, { 'Upload-Checksum': sha1(second) });
    expect(resumed.status).toBe(204);
    expect(resumed.headers.get('upload-offset')).toBe(String(source.length));
    expect(digestOf(await storedBytes(server.dataDir, url))).toBe(digestOf(source));
  });

  it('during creation-with-upload with a checksum: nothing is left behind', async () => {
    const source = randomData(2 * MiB);
    const before = await snapshotDir(server.dataDir);
    const cut = controlledUpload('POST', server.endpoint, source.length, {
      'Upload-Length': String(source.length),
      'Upload-Checksum': sha1(source),
    });
    await cut.send(source.subarray(0, MiB));
    // The new upload's data file appears once its first bytes are stored.
    await waitFor('the creation to store bytes', async () => {
      const now = await snapshotDir(server.dataDir);
      return Object.entries(now).some(([name, entry]) => !(name in before) && !name.endsWith('.json') && !entry.startsWith('0:')) ? true : undefined;
    });
    cut.disconnect();
    await cut.answer;
    await expect.poll(() => snapshotDir(server.dataDir), { timeout: 10_000, interval: 50 }).toEqual(before);
  });
});

describe('a PATCH whose lock another request asks for', () => {
  it('stops at the bytes that arrived, answers their offset, and the newcomer sees it (409)', async () => {
    const source = randomData(4 * MiB);
    const { url } = await create(server.endpoint, { length: source.length });
    const holder = controlledPatch(url, 0, source.length);
    await holder.send(source.subarray(0, MiB + 777));
    await waitFor('the server to store the first bytes', async () =>
      (await storedSize(server.dataDir, url)) >= MiB + 777 ? true : undefined,
    );

    // The newcomer asks the holder to release; the holder's body ends where it is.
    const newcomer = await patch(url, 0, source.subarray(0, MiB));
    const answer = await holder.answer;
    holder.disconnect();
    expect(answer.status).toBe(204);
    const offset = Number(answer.headers['upload-offset']);
    expect(offset).toBeGreaterThanOrEqual(MiB + 777);
    expect(offset).toBeLessThan(source.length);
    expect(newcomer.status).toBe(409);
    expect(await offsetOf(url)).toBe(offset);
    expect(digestOf(await storedBytes(server.dataDir, url))).toBe(digestOf(source.subarray(0, offset)));
  });
});
