import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import * as tus from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FinishedUpload } from '../../src/tus/completion/tessera-events.js';
import { uploadWithTusJs } from '../support/tus-js.js';
import { digestOf } from '../support/bytes.js';
import { sha256Hex } from '../support/concat.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { head } from '../support/tus-http.js';

const MiB = 1024 * 1024;

/** tus-js-client's parallelUploads: N partials in parallel, then one final, against Tessera. */
describe('tus-js-client parallelUploads', () => {
  let server: RunningTessera;
  const ready: FinishedUpload[] = [];
  const partialCreations: string[] = [];

  beforeAll(async () => {
    server = await startTessera(
      {},
      {
        hooks: {
          onUploadFinish: async (_req, upload) => {
            ready.push(upload);
            return {};
          },
          onUploadCreate: async (req, upload) => {
            if (req.headers.get('upload-concat') === 'partial') partialCreations.push(upload.id);
            return {};
          },
        },
      },
    );
  });
  afterAll(() => server.stop());

  const upload = (source: Buffer, options: tus.UploadOptions) =>
    uploadWithTusJs(source, { endpoint: server.endpoint, ...options });

  it('uploads 64 MiB as 4 parallel partials with a sha256, byte-identical and verified', async () => {
    const source = randomBytes(64 * MiB);
    const digest = sha256Hex(source);
    const url = await upload(source, {
      parallelUploads: 4,
      chunkSize: 8 * MiB,
      metadata: { filename: 'parallel.bin', sha256: digest },
    });
    const id = new URL(url).pathname.split('/').pop() as string;

    expect(partialCreations).toHaveLength(4);
    const info = await head(url);
    expect(info.status).toBe(200);
    expect(info.headers.get('upload-concat')).toMatch(/^final;(\S+ ){3}\S+$/);
    expect(info.headers.get('upload-offset')).toBe(String(source.length));
    expect(info.headers.get('tessera-sha256')).toBe(digest);
    expect(digestOf(await fs.readFile(path.join(server.dataDir, id)))).toBe(digestOf(source));

    const notices = ready.filter((u) => u.id === id);
    expect(notices).toHaveLength(1);
    expect(notices[0]?.sha256).toBe(digest);
    // Partials are not files of their own: only the final was reported.
    expect(ready.filter((u) => partialCreations.includes(u.id))).toHaveLength(0);
  });

  it('fails visibly when the declared sha256 does not match', async () => {
    const source = randomBytes(4 * MiB);
    const error = await upload(source, {
      parallelUploads: 2,
      metadata: { sha256: sha256Hex(randomBytes(16)) },
    }).then(
      () => undefined,
      (e: unknown) => e as tus.DetailedError,
    );
    expect(error).toBeDefined();
    expect(error?.originalResponse?.getStatus()).toBe(460);
    expect(error?.originalResponse?.getBody()).toMatch(/sha256 mismatch/);
  });
});
