import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTessera, type RunningTessera } from '../support/tessera.js';

describe('health probes', () => {
  let server: RunningTessera | undefined;
  let scratch: string | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
    if (scratch) await fs.rm(scratch, { recursive: true, force: true });
    scratch = undefined;
  });

  it('/healthz answers 200 without any tus header', async () => {
    server = await startTessera();
    const res = await fetch(`${server.baseUrl}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz answers 200 while the data directory takes writes, and leaves no probe file behind', async () => {
    server = await startTessera();
    const res = await fetch(`${server.baseUrl}/readyz`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ready' });
    expect((await fs.readdir(server.dataDir)).filter((name) => name.startsWith('.ready-'))).toEqual([]);
  });

  it('/readyz answers 503 when the data directory is gone or replaced by a file', async () => {
    // Works as root too, where permission bits would not stop a write.
    scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-ready-'));
    const dataDir = path.join(scratch, 'data');
    server = await startTessera({ dataDir });
    expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(200);

    await fs.rm(dataDir, { recursive: true });
    const gone = await fetch(`${server.baseUrl}/readyz`);
    expect(gone.status).toBe(503);
    expect(await gone.json()).toMatchObject({ status: 'not ready', reason: expect.any(String) });
    // Liveness is not readiness: the process is still up.
    expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);

    await fs.writeFile(dataDir, 'not a directory');
    expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(503);

  });

  it('refuses to start when the data directory cannot be created', async () => {
    scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-ready-'));
    const blocker = path.join(scratch, 'file');
    await fs.writeFile(blocker, '');
    await expect(startTessera({ dataDir: path.join(blocker, 'data') })).rejects.toThrow(/DATA_DIR|ENOTDIR/);
  });
});
