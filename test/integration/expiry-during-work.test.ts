import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FinishedUpload } from '../../src/tus/completion/tessera-events.js';
import { FileStoreAdapter } from '../../src/stores/file/file-store-adapter.js';
import { final, sha256Hex } from '../support/concat.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, head, patch, randomData } from '../support/tus-http.js';

const idOf = (url: string) => new URL(url).pathname.split('/').pop() as string;

/**
 * The expiry sweep and work in progress. A final's file stays empty until its assembly is
 * renamed into place, so to the sweep it looks like an expired unfinished upload; the sweep takes
 * the upload's lock and asks again, so the assembly (which holds the final's and its partials'
 * locks) finishes first. To hold an assembly open at a chosen moment the file store's
 * concatenate waits on a gate: a stand-in for a slow disk, the one thing not produced for real.
 */
describe('expiry while a final is being assembled', () => {
  let server: RunningTessera;
  let open: () => void = () => undefined;
  let entered: () => void = () => undefined;
  const original = FileStoreAdapter.prototype.concatenate;

  beforeAll(async () => {
    // Everything but a finished upload is expired a millisecond after it is made.
    server = await startTessera({ uploadExpiryMs: 1 });
  });
  afterAll(async () => {
    FileStoreAdapter.prototype.concatenate = original;
    await server.stop();
  });

  it('removes neither the final nor its partials under the assembly; the partials go once the final is done', async () => {
    // Creation-with-upload: a PATCH to an upload older than 1 ms would be a 410.
    const parts = [randomData(1000), randomData(1000)];
    const partials = await Promise.all(
      parts.map(async (body) => (await create(server.endpoint, { length: 1000, body, headers: { 'Upload-Concat': 'partial' } })).url),
    );
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const gate = new Promise<void>((resolve) => (open = resolve));
    FileStoreAdapter.prototype.concatenate = async function (this: FileStoreAdapter, ...args) {
      entered();
      await gate;
      return original.apply(this, args);
    };
    const posting = final(server.endpoint, partials, { sha256: sha256Hex(Buffer.concat(parts)) });
    await inside;
    // The sweep runs while the assembly is held: it must wait for it, not remove under it.
    const sweeping = server.tessera.sweeper.sweep();
    open();
    const [fin] = await Promise.all([posting, sweeping]);
    FileStoreAdapter.prototype.concatenate = original;
    expect(fin.res.status).toBe(201);
    // Whether that sweep reached the partials before or after the final was done depends on the
    // order it lists them in; the next one finds them used by a done final, which holds its own copy.
    await server.tessera.sweeper.sweep();
    const look = await head(fin.url);
    expect(look.headers.get('tessera-upload-status')).toBe('done');
    expect(await (await fetch(fin.url)).arrayBuffer()).toEqual(Buffer.concat(parts).buffer.slice(0));
    for (const url of partials) expect((await head(url)).status).toBe(404);
    expect(await fs.readdir(path.join(server.dataDir, '.tessera-state', 'links'))).toEqual([]);
  });
});

describe('an upload of an earlier version (no record) that is finished after the upgrade', () => {
  it('is announced once, like any other', async () => {
    const first = await startTessera();
    const data = randomData(2000);
    const { url } = await create(first.endpoint, { length: data.length });
    expect((await patch(url, 0, data.subarray(0, 1000))).status).toBe(204);
    await first.tessera.close();
    // Earlier versions kept no record for an ordinary upload without a digest.
    await fs.rm(path.join(first.dataDir, '.tessera-state', `upload-${idOf(url)}.json`));
    const ready: string[] = [];
    const second = await startTessera({ dataDir: first.dataDir });
    try {
      second.tessera.events.on('file-ready', (u: FinishedUpload) => ready.push(u.id));
      const resumed = url.replace(new URL(url).origin, second.baseUrl);
      expect((await patch(resumed, 1000, data.subarray(1000))).status).toBe(204);
      expect(ready).toEqual([idOf(url)]);
      expect((await patch(resumed, 2000, Buffer.alloc(0))).status).toBe(204);
      expect(ready).toEqual([idOf(url)]);
    } finally {
      await second.stop();
      await fs.rm(first.dataDir, { recursive: true, force: true });
    }
  });
});
