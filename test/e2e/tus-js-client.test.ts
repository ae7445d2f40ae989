import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import * as tus from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { head, offsetOf } from '../support/tus-http.js';
import { digestOf } from '../support/bytes.js';

const MiB = 1024 * 1024;
const SIZE = 64 * MiB;
const CHUNK = 8 * MiB;

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const idOf = (url: string) => decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');

/** The real tus-js-client (NodeHttpStack) against a real server. */
describe('tus-js-client 4.3.1 from Node', () => {
  let server: RunningTessera;
  /** Body sizes of every PATCH the server received, as declared by Content-Length. */
  const patchBodies: number[] = [];
  const created: { id: string; deferred: boolean }[] = [];

  beforeAll(async () => {
    server = await startTessera(
      {},
      {
        hooks: {
          onIncomingRequest: async (req) => {
            if (req.method === 'PATCH') patchBodies.push(Number(req.headers.get('content-length') ?? NaN));
          },
          onUploadCreate: async (_req, upload) => {
            created.push({ id: upload.id, deferred: upload.sizeIsDeferred });
            return {};
          },
        },
      },
    );
  });
  afterAll(async () => {
    await server.stop();
  });

  it('resumes a 64 MiB upload aborted part-way from the server offset, byte-identical at the end', async () => {
    const source = randomBytes(SIZE);

    // First attempt: abort once 40% is on the wire.
    const first = await new Promise<string>((resolve, reject) => {
      let aborting = false;
      const upload = new tus.Upload(source, {
        endpoint: server.endpoint,
        chunkSize: CHUNK,
        retryDelays: [],
        metadata: { filename: 'big.bin', filetype: 'application/octet-stream' },
        onProgress(sent, total) {
          if (aborting || sent < total * 0.4) return;
          aborting = true;
          upload.abort().then(() => resolve(upload.url ?? ''), reject);
        },
        onSuccess: () => reject(new Error('the upload finished before it could be aborted')),
        onError: reject,
      });
      upload.start();
    });
    expect(first.startsWith(`${server.endpoint}/`)).toBe(true);

    // Chunks go one after the other, so at least the three before 40% are stored.
    const resumeOffset = await offsetOf(first);
    expect(resumeOffset).toBeGreaterThanOrEqual(3 * CHUNK);
    expect(resumeOffset).toBeLessThan(SIZE);

    // Second attempt: a new Upload for the same URL.
    patchBodies.length = 0;
    let sentAgain = 0;
    let firstProgress: number | undefined;
    const second = await new Promise<string>((resolve, reject) => {
      const upload = new tus.Upload(source, {
        uploadUrl: first,
        chunkSize: CHUNK,
        retryDelays: [],
        onProgress(sent) {
          firstProgress ??= sent;
        },
        onChunkComplete(chunkSize) {
          sentAgain += chunkSize;
        },
        onSuccess: () => resolve(upload.url ?? ''),
        onError: reject,
      });
      upload.start();
    });
    expect(second).toBe(first);
    expect(sentAgain).toBe(SIZE - resumeOffset);
    expect(patchBodies.reduce((a, b) => a + b, 0)).toBe(SIZE - resumeOffset);
    expect(firstProgress).toBeGreaterThanOrEqual(resumeOffset);

    const status = await head(first);
    expect(status.headers.get('upload-offset')).toBe(String(SIZE));
    const stored = await fs.readFile(path.join(server.dataDir, idOf(first)));
    expect(stored.length).toBe(SIZE);
    expect(sha256(stored)).toBe(sha256(source));
  });

  it('uploads a stream of unknown length with uploadLengthDeferred', async () => {
    const parts = [randomBytes(300 * 1024), randomBytes(700 * 1024), randomBytes(123)];
    const whole = Buffer.concat(parts);
    const url = await new Promise<string>((resolve, reject) => {
      const upload = new tus.Upload(Readable.from(parts), {
        endpoint: server.endpoint,
        uploadLengthDeferred: true,
        chunkSize: 256 * 1024,
        retryDelays: [],
        onSuccess: () => resolve(upload.url ?? ''),
        onError: reject,
      });
      upload.start();
    });
    const id = idOf(url);
    expect(created.find((c) => c.id === id)?.deferred).toBe(true);
    const status = await head(url);
    expect(status.headers.get('upload-length')).toBe(String(whole.length));
    expect(status.headers.get('upload-defer-length')).toBeNull();
    expect(digestOf(await fs.readFile(path.join(server.dataDir, id)))).toBe(digestOf(whole));
  });

  it('terminates an upload with tus.Upload.terminate', async () => {
    const url = await new Promise<string>((resolve, reject) => {
      let stopping = false;
      const upload = new tus.Upload(randomBytes(2 * MiB), {
        endpoint: server.endpoint,
        chunkSize: MiB,
        retryDelays: [],
        onChunkComplete() {
          if (stopping) return;
          stopping = true;
          upload.abort().then(() => resolve(upload.url ?? ''), reject);
        },
        onSuccess: () => reject(new Error('the upload finished before it could be aborted')),
        onError: reject,
      });
      upload.start();
    });
    const file = path.join(server.dataDir, idOf(url));
    expect((await fs.stat(file)).size).toBeGreaterThan(0);

    await tus.Upload.terminate(url, { retryDelays: [] });
    expect((await head(url)).status).toBe(404);
    await expect(fs.stat(file)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
