import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { S3 } from '@aws-sdk/client-s3';
import * as tus from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retryOnChecksumMismatch, withChecksum } from '../../src/client/index.js';
import type { FinishedUpload } from '../../src/tus/completion/tessera-events.js';
import { uploadWithTusJs } from '../support/tus-js.js';
import { digestOf } from '../support/bytes.js';
import { sha256Hex } from '../support/concat.js';
import { startCorruptingProxy } from '../support/corrupting-proxy.js';
import { bucketContents, idOf, newBucket, s3ClientFor, startS3Server, startTesseraOnS3, type S3ServerProcess } from '../support/s3.js';
import type { RunningTessera } from '../support/tessera.js';
import { head, offsetOf } from '../support/tus-http.js';

const MiB = 1024 * 1024;

/** The object `key` as S3 holds it, read with the SDK (not through Tessera). */
async function objectBytes(client: S3, bucket: string, key: string): Promise<Buffer> {
  const { Body } = await client.getObject({ Bucket: bucket, Key: key });
  return Buffer.from(await (Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
}

/** The real tus-js-client against Tessera storing in a real S3-compatible server process. */
describe('tus-js-client 4.3.1 → Tessera → S3', () => {
  let s3: S3ServerProcess;
  let client: S3;
  let bucket: string;
  let server: RunningTessera;
  const ready: FinishedUpload[] = [];

  beforeAll(async () => {
    s3 = await startS3Server();
    client = s3ClientFor(s3);
    bucket = await newBucket(client, 'e2e');
    server = await startTesseraOnS3(
      s3,
      bucket,
      {},
      {
        hooks: {
          onUploadFinish: async (_req, upload) => {
            ready.push(upload);
            return {};
          },
        },
      },
    );
  });
  afterAll(async () => {
    await server.stop();
    await s3.stop();
  });

  /** Objects of these uploads only: tests share the bucket. */
  const objectsOf = async (ids: readonly string[]) => {
    const { objects, uploads } = await bucketContents(client, bucket);
    const mine = (key: string) => ids.some((id) => key === id || key.startsWith(`${id}.`));
    return { objects: objects.filter(mine), uploads: uploads.filter(mine) };
  };

  const upload = (source: Buffer, options: tus.UploadOptions) =>
    uploadWithTusJs(source, { endpoint: server.endpoint, ...options });

  it('plain: resumes a 64 MiB upload aborted part-way; S3 holds exactly the file and its info', async () => {
    const source = randomBytes(64 * MiB);
    const first = await new Promise<string>((resolve, reject) => {
      let aborting = false;
      const u = new tus.Upload(source, {
        endpoint: server.endpoint,
        chunkSize: 8 * MiB,
        retryDelays: [],
        onProgress(sent, total) {
          if (aborting || sent < total * 0.4) return;
          aborting = true;
          u.abort().then(() => resolve(u.url ?? ''), reject);
        },
        onSuccess: () => reject(new Error('the upload finished before it could be aborted')),
        onError: reject,
      });
      u.start();
    });
    const resumeFrom = await offsetOf(first);
    expect(resumeFrom).toBeGreaterThanOrEqual(3 * 8 * MiB);
    expect(resumeFrom).toBeLessThan(source.length);

    const second = await upload(source, { uploadUrl: first, chunkSize: 8 * MiB });
    expect(second).toBe(first);
    const id = idOf(first);
    expect((await head(first)).headers.get('upload-offset')).toBe(String(source.length));
    expect(digestOf(await objectBytes(client, bucket, id))).toBe(digestOf(source));
    expect(await objectsOf([id])).toEqual({ objects: [id, `${id}.info`], uploads: [] });
  });

  it('a stream of unknown length in chunks of several parts (uploadLengthDeferred): S3 holds exactly the file', async () => {
    // 11 MiB chunks over 5 MiB parts: whole parts go straight to S3, each chunk's tail becomes
    // the `.part` object that the next chunk continues, and the length arrives with the last one.
    const pieces = [randomBytes(7 * MiB), randomBytes(9 * MiB), randomBytes(3 * MiB + 17)];
    const whole = Buffer.concat(pieces);
    const url = await uploadWithTusJs(Readable.from(pieces), { endpoint: server.endpoint, uploadLengthDeferred: true, chunkSize: 11 * MiB });
    const id = idOf(url);
    expect((await head(url)).headers.get('upload-length')).toBe(String(whole.length));
    expect(digestOf(await objectBytes(client, bucket, id))).toBe(digestOf(whole));
    expect(await objectsOf([id])).toEqual({ objects: [id, `${id}.info`], uploads: [] });
  });

  it('checksummed: a chunk corrupted in transit is refused (460), resent, and the S3 object is byte-identical', async () => {
    const source = randomBytes(64 * MiB);
    const proxy = await startCorruptingProxy(server.baseUrl, { corruptPatch: 3, byteIndex: 5 * MiB + 7 });
    const statuses: number[] = [];
    try {
      const url = await upload(source, {
        endpoint: `${proxy.url}${server.tessera.config.tusPath}`,
        chunkSize: 8 * MiB,
        retryDelays: [0, 50, 100],
        httpStack: withChecksum(new tus.DefaultHttpStack({}), { algorithm: 'sha256' }),
        onShouldRetry: retryOnChecksumMismatch,
        onAfterResponse: (req, res) => {
          if (req.getMethod() === 'PATCH') statuses.push(res.getStatus());
        },
      });
      expect(proxy.corrupted).toBe(1);
      // The refused chunk is resent in two halves (withChecksum halves after a 460 until two get through).
      expect(statuses).toEqual([204, 204, 460, 204, 204, 204, 204, 204, 204, 204]);
      const id = idOf(url);
      expect(digestOf(await objectBytes(client, bucket, id))).toBe(digestOf(source));
      expect(await objectsOf([id])).toEqual({ objects: [id, `${id}.info`], uploads: [] });
    } finally {
      await proxy.stop();
    }
  });

  it('parallelUploads: 4 × 16 MiB partials with a sha256, assembled inside S3; after removing the partials only the final remains', async () => {
    const source = randomBytes(64 * MiB);
    const digest = sha256Hex(source);
    const partials: string[] = [];
    let beforeFinal: Awaited<ReturnType<S3ServerProcess['stats']>> | undefined;
    const url = await upload(source, {
      parallelUploads: 4,
      metadata: { filename: 'parallel.bin', sha256: digest },
      onBeforeRequest: async (req) => {
        if (req.getMethod() === 'POST' && req.getHeader('Upload-Concat')?.startsWith('final')) beforeFinal = await s3.stats();
      },
      onAfterResponse: (req, res) => {
        if (req.getMethod() === 'POST' && req.getHeader('Upload-Concat') === 'partial') {
          partials.push(new URL(res.getHeader('Location') ?? '', server.endpoint).toString());
        }
      },
    });
    const after = await s3.stats();
    const finalId = idOf(url);
    expect(partials).toHaveLength(4);
    // Assembly copied every byte inside S3 and uploaded none.
    expect((after.UploadPartCopy?.requests ?? 0) - (beforeFinal?.UploadPartCopy?.requests ?? 0)).toBe(4);
    expect((after.UploadPartCopy?.bytesCopied ?? 0) - (beforeFinal?.UploadPartCopy?.bytesCopied ?? 0)).toBe(source.length);
    expect((after.UploadPart?.bytesIn ?? 0) - (beforeFinal?.UploadPart?.bytesIn ?? 0)).toBe(0);

    const info = await head(url);
    expect(info.headers.get('tessera-sha256')).toBe(digest);
    expect(ready.filter((u) => u.id === finalId).map((u) => u.sha256)).toEqual([digest]);
    expect(digestOf(await objectBytes(client, bucket, finalId))).toBe(digestOf(source));

    for (const partial of partials) await tus.Upload.terminate(partial, { retryDelays: [] });
    const partialIds = partials.map(idOf);
    expect(await objectsOf([finalId, ...partialIds])).toEqual({ objects: [finalId, `${finalId}.info`], uploads: [] });
  });

  it('parallelUploads with a wrong sha256 fails visibly (460) and keeps no final object', async () => {
    const source = randomBytes(12 * MiB);
    const error = await upload(source, { parallelUploads: 2, metadata: { sha256: sha256Hex(randomBytes(16)) } }).then(
      () => undefined,
      (e: unknown) => e as tus.DetailedError,
    );
    expect(error?.originalResponse?.getStatus()).toBe(460);
    const location = error?.originalResponse?.getHeader('Location');
    expect(location).toBeTruthy();
    const finalId = idOf(new URL(location ?? '', server.endpoint).toString());
    expect((await bucketContents(client, bucket)).objects).not.toContain(finalId);
  });
});
