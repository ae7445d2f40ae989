import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { DefaultHttpStack, Upload, type HttpRequest, type UploadOptions } from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { retryOnChecksumMismatch, withChecksum, type ChecksumAlgorithm } from '../../src/client/index.js';
import { startCorruptingProxy } from '../support/corrupting-proxy.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';

const MiB = 1024 * 1024;

interface Exchange {
  readonly method: string;
  readonly offset: number;
  readonly checksum: string | undefined;
  readonly status: number;
}

/** Runs one tus-js-client upload to the end; resolves with its URL and every request seen. */
function upload(
  source: Buffer | Readable | NodeJS.ReadableStream,
  options: UploadOptions,
): Promise<{ url: string; exchanges: Exchange[] }> {
  const exchanges: Exchange[] = [];
  return new Promise((resolve, reject) => {
    const up = new Upload(source as Buffer, {
      retryDelays: [0, 50, 100],
      ...options,
      onAfterResponse: (req: HttpRequest, res) => {
        exchanges.push({
          method: req.getMethod(),
          offset: Number(req.getHeader('Upload-Offset') ?? 0),
          checksum: req.getHeader('Upload-Checksum'),
          status: res.getStatus(),
        });
      },
      onSuccess: () => resolve({ url: up.url ?? '', exchanges }),
      onError: reject,
    });
    up.start();
  });
}

const sha256 = (data: Buffer) => `sha256 ${createHash('sha256').update(data).digest('base64')}`;

describe('tus-js-client with the checksum helper', () => {
  let server: RunningTessera;
  beforeAll(async () => {
    server = await startTessera();
  });
  afterAll(async () => {
    await server.stop();
  });

  const stored = (url: string) => fs.readFile(path.join(server.dataDir, decodeURIComponent(url.split('/').pop() ?? '')));

  it('uploads 64 MiB in 8 MiB chunks, each PATCH carrying the sha256 of its chunk', async () => {
    const data = randomBytes(64 * MiB);
    const { url, exchanges } = await upload(data, {
      endpoint: server.endpoint,
      chunkSize: 8 * MiB,
      httpStack: withChecksum(new DefaultHttpStack({}), { algorithm: 'sha256' }),
    });
    const patches = exchanges.filter((e) => e.method === 'PATCH');
    expect(patches).toHaveLength(8);
    for (const p of patches) {
      expect(p.status).toBe(204);
      expect(p.checksum).toBe(sha256(data.subarray(p.offset, p.offset + 8 * MiB)));
    }
    expect((await stored(url)).equals(data)).toBe(true);
  });

  it('resends the one chunk a proxy corrupted after the server answers 460', async () => {
    const data = randomBytes(64 * MiB);
    const proxy = await startCorruptingProxy(server.baseUrl, { corruptPatch: 3, byteIndex: 5 * MiB + 7 });
    try {
      const { url, exchanges } = await upload(data, {
        endpoint: `${proxy.url}${server.tessera.config.tusPath}`,
        chunkSize: 8 * MiB,
        httpStack: withChecksum(new DefaultHttpStack({}), { algorithm: 'sha256' }),
        // tus-js-client gives up on 4xx by default; 460 means "resend this chunk".
        onShouldRetry: retryOnChecksumMismatch,
      });
      expect(proxy.corrupted).toBe(1);
      const patches = exchanges.filter((e) => e.method === 'PATCH');
      expect(patches.map((p) => p.status)).toEqual([204, 204, 460, 204, 204, 204, 204, 204, 204, 204]);
      // The rejected chunk was resent from the same offset, after a HEAD, in two halves (a damaged
      // chunk halves the chunk size until two get through, see withAdaptiveChunks); then 8 MiB again.
      expect(patches[3]?.offset).toBe(patches[2]?.offset);
      expect(patches.slice(3, 6).map((p) => p.offset - (patches[2]?.offset ?? 0))).toEqual([0, 4 * MiB, 8 * MiB]);
      expect(exchanges.some((e) => e.method === 'HEAD')).toBe(true);
      expect((await stored(url)).equals(data)).toBe(true);
    } finally {
      await proxy.stop();
    }
  });

  it('fails with 460 on the default retry rule, leaving the offset before the bad chunk', async () => {
    const data = randomBytes(3 * MiB);
    const proxy = await startCorruptingProxy(server.baseUrl, { corruptPatch: 2, byteIndex: 100 });
    try {
      const outcome = await upload(data, {
        endpoint: `${proxy.url}${server.tessera.config.tusPath}`,
        chunkSize: MiB,
        httpStack: withChecksum(new DefaultHttpStack({}), { algorithm: 'crc32' }),
      }).then(
        () => 'finished',
        (err: { originalResponse?: { getStatus(): number } | null }) => err.originalResponse?.getStatus(),
      );
      expect(outcome).toBe(460);
    } finally {
      await proxy.stop();
    }
  });

  it.each<ChecksumAlgorithm>(['sha1', 'md5', 'sha512', 'crc32'])('uploads a file path stream with %s', async (algorithm) => {
    const data = randomBytes(3 * MiB + 123);
    const file = path.join(server.dataDir, `source-${algorithm}.bin`);
    await fs.writeFile(file, data);
    const { createReadStream } = await import('node:fs');
    const { url, exchanges } = await upload(createReadStream(file), {
      endpoint: server.endpoint,
      chunkSize: MiB,
      httpStack: withChecksum(new DefaultHttpStack({}), { algorithm }),
    });
    const patches = exchanges.filter((e) => e.method === 'PATCH');
    expect(patches).toHaveLength(4);
    expect(patches.every((p) => p.status === 204 && p.checksum?.startsWith(`${algorithm} `))).toBe(true);
    expect((await stored(url)).equals(data)).toBe(true);
  });

  it('uploads a one-shot Node stream (deferred length) with checksums', async () => {
    const data = randomBytes(2 * MiB + 5);
    const { url, exchanges } = await upload(Readable.from([data.subarray(0, MiB), data.subarray(MiB)]), {
      endpoint: server.endpoint,
      chunkSize: MiB,
      uploadLengthDeferred: true,
      httpStack: withChecksum(new DefaultHttpStack({})),
    });
    // Each PATCH body runs from its offset to the next one's (the source decides the sizes).
    const offsets = exchanges.filter((e) => e.method === 'PATCH' && e.status === 204).map((e) => e.offset);
    const bounds = [...offsets, data.length];
    const withData = offsets.filter((o, i) => (bounds[i + 1] ?? o) > o);
    expect(withData.length).toBeGreaterThanOrEqual(2);
    for (const [i, offset] of offsets.entries()) {
      const end = bounds[i + 1] ?? data.length;
      if (end === offset) continue;
      expect(exchanges.find((e) => e.method === 'PATCH' && e.offset === offset)?.checksum).toBe(
        sha256(data.subarray(offset, end)),
      );
    }
    expect((await stored(url)).equals(data)).toBe(true);
  });

  it('checksums the body of a creation-with-upload POST', async () => {
    const data = randomBytes(MiB);
    const { url, exchanges } = await upload(data, {
      endpoint: server.endpoint,
      uploadDataDuringCreation: true,
      httpStack: withChecksum(new DefaultHttpStack({}), { algorithm: 'sha1' }),
    });
    const post = exchanges.find((e) => e.method === 'POST');
    expect(post?.status).toBe(201);
    expect(post?.checksum).toBe(`sha1 ${createHash('sha1').update(data).digest('base64')}`);
    expect((await stored(url)).equals(data)).toBe(true);
  });
});
