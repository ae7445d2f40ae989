import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { crashTessera } from '../support/cli-server-crash.js';
import { waitFor } from '../support/fault-wait.js';
import { spawnTessera, type TesseraProcess } from '../support/tessera-process.js';
import { create, head, TUS } from '../support/tus-http.js';

/**
 * Issue #14, finding 3: the server process is killed with SIGKILL while it verifies an
 * upload's declared SHA-256. After the restart the upload must never be served unverified:
 * the recovery pass (or the first request) finishes the verification under the lock, and
 * GET answers 404 until then, and for good when the digest was wrong.
 */
const MiB = 1024 * 1024;
const SIZE = 256 * MiB;

describe('kill -9 during whole-file verification', () => {
  const processes: TesseraProcess[] = [];
  afterEach(async () => {
    for (const proc of processes.splice(0)) await proc.cleanup();
  });

  it.each([
    { name: 'a wrong digest: failed after the restart, never served', right: false },
    { name: 'the right digest: done after the restart, served byte-identical', right: true },
  ])('$name', async ({ right }) => {
    const data = randomBytes(SIZE);
    const digest = createHash('sha256').update(data).digest('hex');
    const first = await spawnTessera({ LOG_LEVEL: 'info' });
    processes.push(first);
    const { url } = await create(first.endpoint, { length: SIZE, metadata: { sha256: right ? digest : 'f'.repeat(64) } });
    const id = new URL(url).pathname.split('/').pop() as string;
    const patching = fetch(url, {
      method: 'PATCH',
      headers: { ...TUS, 'Upload-Offset': '0', 'Content-Type': 'application/offset+octet-stream' },
      body: data,
    }).then(
      (res) => res.status,
      () => 0,
    );
    await first.waitForLog('verifying upload', 60_000);
    await crashTessera(first);
    expect(await patching).toBe(0);
    const record = JSON.parse(await fs.readFile(path.join(first.dataDir, '.tessera-state', `upload-${id}.json`), 'utf8')) as { status: string };
    expect(record.status, 'the kill must land during verification').toBe('verifying');

    const second = await spawnTessera({ LOG_LEVEL: 'info', DATA_DIR: first.dataDir });
    processes.unshift(second);
    const again = `${second.endpoint}/${id}`;
    const served: number[] = [];
    const settled = await waitFor(
      'the upload to be settled after the restart',
      async () => {
        served.push((await fetch(again, { method: 'GET' }).then(async (res) => (await res.arrayBuffer(), res.status))));
        const status = (await head(again)).headers.get('tessera-upload-status');
        return status === 'done' || status === 'failed' ? status : undefined;
      },
      60_000,
    );
    if (!right) {
      expect(settled).toBe('failed');
      expect(served.every((status) => status === 404)).toBe(true);
      const look = await head(again);
      expect(look.status).toBe(460);
      expect((await fetch(again)).status).toBe(404);
      expect((await fs.stat(path.join(first.dataDir, id))).size).toBe(0);
    } else {
      expect(settled).toBe('done');
      // Before it was settled, GET never answered 200.
      expect(served.slice(0, -1).every((status) => status === 404)).toBe(true);
      expect((await head(again)).headers.get('tessera-sha256')).toBe(digest);
      const res = await fetch(again);
      expect(res.status).toBe(200);
      expect(createHash('sha256').update(Buffer.from(await res.arrayBuffer())).digest('hex')).toBe(digest);
    }
  }, 180_000);
});
