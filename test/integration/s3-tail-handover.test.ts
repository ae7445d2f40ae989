import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../support/bytes.js';
import { S3_BACKENDS, startS3WithTessera, type S3ServerProcess } from '../support/s3.js';
import type { RunningTessera } from '../support/tessera.js';
import { create, head, patch } from '../support/tus-http.js';
import { unfinishedPatch } from '../support/unfinished-patch.js';

const MiB = 1024 * 1024;
// Leaves a 1-byte `.part` tail behind (5 MiB is the smallest part).
const STEP = 5 * MiB + 1;

/**
 * Issue #22, item 6 (found again by this session's adversarial pass): a PATCH of declared length
 * that continues a `.part` tail and is cut short before its first part is in. The stock write
 * deleted the tail first, so bytes an earlier 204 acknowledged were lost and the offset went
 * back (5242881 → 5242880). Now the offset never goes below what was acknowledged, and the
 * client's resume from HEAD's offset gives the exact file.
 */
describe.each(S3_BACKENDS)('S3 (%s): the .part tail survives a PATCH cut short', (backend) => {
  let s3: S3ServerProcess;
  let server: RunningTessera;
  let stop: () => Promise<void>;
  beforeAll(async () => {
    ({ s3, server, stop } = await startS3WithTessera('tail', { lockDrainTimeoutMs: 200 }, backend));
  }, 180_000);
  afterAll(() => stop());

  /** Starts a PATCH of the rest of `body` at `offset`, sends `sent` bytes of it, and returns it. */
  const stalledPatch = (url: string, offset: number, body: Buffer, sent: number) => unfinishedPatch(url, offset, body.length, body.subarray(0, sent));

  it.each([
    ['the client goes away', async (r: ReturnType<typeof stalledPatch>, url: string) => {
      r.req.destroy();
      // HEAD takes the upload's lock: it answers once the cut PATCH is done with the upload.
      return Number((await head(url)).headers.get('upload-offset'));
    }],
    ['a HEAD takes the lock', async (r: ReturnType<typeof stalledPatch>, url: string) => {
      const offset = Number((await head(url)).headers.get('upload-offset'));
      expect(await r.answered).not.toBe(500);
      r.req.destroy();
      return offset;
    }],
  ])('%s: the offset stays at least the acknowledged one, and the resume gives the exact file', async (_name, cut) => {
    const data = randomBytes(3 * STEP);
    const { url } = await create(server.endpoint, { length: data.length });
    expect((await patch(url, 0, data.subarray(0, STEP))).status).toBe(204);
    const before = (await s3.stats()).UploadPart?.bytesIn ?? 0;
    const stalled = stalledPatch(url, STEP, data.subarray(STEP), 2 * MiB);
    // The PATCH holds the upload's lock and streams its first part into S3 (tail + body) before the cut.
    const deadline = Date.now() + 10_000;
    while (((await s3.stats()).UploadPart?.bytesIn ?? 0) - before < MiB && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    const offset = await cut(stalled, url);
    expect(offset).toBeGreaterThanOrEqual(STEP);
    const settled = Number((await head(url)).headers.get('upload-offset'));
    expect((await patch(url, settled, data.subarray(settled))).status).toBe(204);
    expect(digestOf(Buffer.from(await (await fetch(url)).arrayBuffer()))).toBe(digestOf(data));
  });

  it('the tail is never counted twice: its delete failing after the part holding its bytes was stored (as a crash there would) leaves the offset right', async () => {
    const data = randomBytes(2 * 5 * MiB + 5);
    const { url } = await create(server.endpoint, { length: data.length });
    expect((await patch(url, 0, data.subarray(0, STEP))).status).toBe(204);
    // 1 byte of tail + 5 MiB - 1 of body: exactly one part, after which the tail is deleted, and that
    // delete fails (every SDK attempt).
    await s3.failNext('DeleteObject', 3);
    const cut = await patch(url, STEP, data.subarray(STEP, 2 * 5 * MiB));
    expect(cut.status).toBe(503);
    await cut.text();
    // The part holds the tail's byte, and the tail is still there: it must count once.
    expect(Number((await head(url)).headers.get('upload-offset'))).toBe(2 * 5 * MiB);
    expect((await patch(url, 2 * 5 * MiB, data.subarray(2 * 5 * MiB))).status).toBe(204);
    expect(digestOf(Buffer.from(await (await fetch(url)).arrayBuffer()))).toBe(digestOf(data));
  });
});
