import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../support/bytes.js';
import { S3_BACKENDS, startS3WithTessera, type S3ServerProcess } from '../support/s3.js';
import type { RunningTessera } from '../support/tessera.js';
import { create, head, patch } from '../support/tus-http.js';

const MiB = 1024 * 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
// The AWS SDK tries a failing request this many times (its default) before it gives up.
const SDK_ATTEMPTS = 3;

/**
 * Issue #22, item 3: a CompleteMultipartUpload that fails after the last part (S3 answering 500
 * to every attempt; a crash there is the same state) left the offset at the length and no
 * object, forever. Now the next read of the upload completes it: a client's next request, or the
 * recovery pass, and the upload is verified and served as usual.
 */
describe.each(S3_BACKENDS)('S3 (%s): an upload whose completion failed is completed by the next touch', (backend) => {
  let s3: S3ServerProcess;
  let server: RunningTessera;
  let stop: () => Promise<void>;
  beforeAll(async () => {
    ({ s3, server, stop } = await startS3WithTessera('complete', {}, backend));
  }, 180_000);
  afterAll(() => stop());

  const completions = async () => (await s3.stats()).CompleteMultipartUpload?.requests ?? 0;

  const failLastPatch = async (data: Buffer) => {
    const { url } = await create(server.endpoint, { length: data.length, metadata: { sha256: sha256(data) } });
    expect((await patch(url, 0, data.subarray(0, 5 * MiB))).status).toBe(204);
    await s3.failNext('CompleteMultipartUpload', SDK_ATTEMPTS);
    const last = await patch(url, 5 * MiB, data.subarray(5 * MiB));
    expect(last.status).toBeGreaterThanOrEqual(500);
    await last.text();
    return url;
  };

  it('a client resuming: HEAD shows every byte, the empty last PATCH verifies it, GET serves it', async () => {
    const data = randomBytes(6 * MiB + 7);
    const url = await failLastPatch(data);
    const before = await completions();
    const status = await head(url);
    expect(status.headers.get('upload-offset')).toBe(String(data.length));
    expect(await completions()).toBe(before + 1);
    expect((await patch(url, data.length, Buffer.alloc(0))).status).toBe(204);
    expect((await head(url)).headers.get('tessera-upload-status')).toBe('done');
    expect(digestOf(Buffer.from(await (await fetch(url)).arrayBuffer()))).toBe(digestOf(data));
  });

  it('nobody coming back: the recovery pass completes and verifies it', async () => {
    const data = randomBytes(6 * MiB + 11);
    const url = await failLastPatch(data);
    expect(await server.tessera.recovery.run()).toBeGreaterThanOrEqual(1);
    const status = await head(url);
    expect(status.headers.get('tessera-upload-status')).toBe('done');
    expect(status.headers.get('tessera-sha256')).toBe(sha256(data));
    expect(digestOf(Buffer.from(await (await fetch(url)).arrayBuffer()))).toBe(digestOf(data));
  });
});
