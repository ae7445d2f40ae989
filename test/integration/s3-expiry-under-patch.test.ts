import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketContents, bucketRecords, s3ClientFor, S3_BACKENDS, startS3WithTessera, type S3ServerProcess } from '../support/s3.js';
import type { RunningTessera } from '../support/tessera.js';
import { create, head } from '../support/tus-http.js';
import { unfinishedPatch } from '../support/unfinished-patch.js';

const MiB = 1024 * 1024;

/**
 * Issue #22, item 8: the expiry sweep removing an S3 upload whose PATCH is still receiving. The
 * sweep takes the upload's lock (the PATCH is asked to let go and stores what it has first), so
 * the removal comes after the write and nothing is written after it: no orphan `.part`,
 * `.unverified` or multipart upload is left for nobody to remove.
 */
describe.each(S3_BACKENDS)('S3 (%s): expiry while a PATCH is receiving', (backend) => {
  let s3: S3ServerProcess;
  let server: RunningTessera;
  let stop: () => Promise<void>;
  beforeAll(async () => {
    // The sweep runs when the test calls it; a PATCH asked to let go of its lock does so quickly.
    ({ s3, server, stop } = await startS3WithTessera('expiry-patch', { uploadExpiryMs: 500, expirySweepIntervalMs: 3_600_000, lockDrainTimeoutMs: 200 }, backend));
  }, 180_000);
  afterAll(() => stop());

  it('removes the upload after the PATCH let go, and leaves nothing behind', async () => {
    const client = s3ClientFor(s3);
    const bucket = server.tessera.config.s3?.bucket ?? '';
    const { url } = await create(server.endpoint, { length: 12 * MiB });
    // 6 MiB of 12: a whole part streams to S3 (with its unverified mark), and the PATCH waits for more.
    const patching = unfinishedPatch(url, 0, 12 * MiB, randomBytes(6 * MiB));
    await patching.written;
    try {
      // Swept as soon as it has expired (500 ms after creation); each sweep asks again.
      await expect.poll(() => server.tessera.sweeper.sweep(), { timeout: 10_000, interval: 100 }).toBe(1);
      expect(await patching.answered).not.toBe(500);
      expect((await head(url)).status).toBe(404);
      expect(await bucketContents(client, bucket)).toEqual({ objects: [], uploads: [] });
      expect(await bucketRecords(client, bucket)).toEqual([]);
    } finally {
      patching.req.destroy();
    }
  });
});
