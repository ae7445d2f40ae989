import { createHash, randomBytes } from 'node:crypto';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { S3 } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../tools/processes/ports.js';
import { startTesseraInstance, type TesseraInstance } from '../../tools/processes/tessera-instance.js';
import { digestOf } from '../support/bytes.js';
import { controlledPatch } from '../support/fault-http.js';
import { bucketContents, idOf, newBucket, S3_BACKENDS, s3ClientFor, startS3Backend, type S3ServerProcess } from '../support/s3.js';
import { create, head, patch } from '../support/tus-http.js';

const MiB = 1024 * 1024;
const PART = 5 * MiB;
const md5Etag = (bytes: Buffer) => `"${createHash('md5').update(bytes).digest('hex')}"`;

/**
 * Issue #22: the Tessera process killed with SIGKILL while a PATCH streams parts into S3 (the
 * test server, and Ceph RGW), then started again. HEAD's offset never counts more than the parts
 * S3 holds in order, each checked against the MD5 of the bytes that belong there; the resume
 * gives the exact file, and nothing is left behind.
 */
describe.each(S3_BACKENDS)('S3 (%s): kill -9 mid-PATCH', (backend) => {
  let s3: S3ServerProcess;
  let client: S3;
  let bucket: string;
  let instance: TesseraInstance;
  let dataDir: string;

  beforeAll(async () => {
    s3 = await startS3Backend(backend);
    client = s3ClientFor(s3);
    bucket = await newBucket(client, 'kill');
    dataDir = await fsp.mkdtemp(path.join(os.tmpdir(), 'tessera-s3-kill-'));
    instance = await startTesseraInstance(await freePort(), {
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      S3_BUCKET: bucket,
      S3_ENDPOINT: s3.endpoint,
      S3_REGION: s3.region,
      S3_FORCE_PATH_STYLE: 'true',
      S3_PART_SIZE: String(PART),
      AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    });
  }, 180_000);
  afterAll(async () => {
    await instance?.kill('SIGKILL');
    await s3?.stop();
    await fsp.rm(dataDir, { recursive: true, force: true });
  });

  /** Bytes S3 holds in order: the run of parts 1.. whose ETags are the MD5s of the bytes that belong there. */
  const storedInOrder = async (id: string, data: Buffer) => {
    const uploadId = (await client.headObject({ Bucket: bucket, Key: `${id}.info` })).Metadata?.['upload-id'];
    const parts = (await client.listParts({ Bucket: bucket, Key: id, UploadId: uploadId })).Parts ?? [];
    let position = 0;
    for (const [index, part] of parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0)).entries()) {
      const size = part.Size ?? 0;
      if (part.PartNumber !== index + 1 || size === 0 || part.ETag !== md5Etag(data.subarray(position, position + size))) break;
      position += size;
    }
    return position;
  };

  it.each([1, 2])('killed once %i part(s) reached S3: the offset counts only parts in order, and the resume gives the exact file', async (partsBeforeKill) => {
    const data = randomBytes(4 * PART + 100);
    const { url } = await create(`${instance.baseUrl}/files`, { length: data.length });
    const id = idOf(url);
    const before = (await s3.stats()).UploadPart?.requests ?? 0;
    const body = controlledPatch(url, 0, data.length);
    // All but the last bytes: the PATCH stays open, streaming parts, while the process is killed.
    void body.send(data.subarray(0, data.length - 100)).catch(() => undefined);
    await expect.poll(async () => ((await s3.stats()).UploadPart?.requests ?? 0) - before, { timeout: 30_000, interval: 20 }).toBeGreaterThanOrEqual(partsBeforeKill);
    await instance.kill('SIGKILL');
    body.disconnect();
    await instance.restart();

    const offset = Number((await head(url)).headers.get('upload-offset'));
    expect(offset).toBeLessThanOrEqual(await storedInOrder(id, data));
    expect((await patch(url, offset, data.subarray(offset))).status).toBe(204);
    expect(digestOf(Buffer.from(await (await fetch(url)).arrayBuffer()))).toBe(digestOf(data));
    const { objects } = await bucketContents(client, bucket);
    expect(objects.filter((key) => key.startsWith(id))).toEqual([id, `${id}.info`]);
  });
});
