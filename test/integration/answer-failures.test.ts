import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, head } from '../support/tus-http.js';

/**
 * An answer that cannot be written (here: upload info holding a metadata key no header can
 * carry, as a file edited by hand or written by an older version might) fails that request
 * alone: 500, logged, and the server goes on. Before, the rejection went unhandled and Node
 * ended the process (found by the adversarial pass over direct uploads).
 */
describe('a request whose answer cannot be written', () => {
  let dataDir: string;
  let server: RunningTessera;
  beforeAll(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-answer-'));
  });
  afterAll(async () => {
    await server?.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('is answered 500 and the server keeps serving', async () => {
    const first = await startTessera({ dataDir });
    const { url: created } = await create(first.endpoint, { length: 10, metadata: { filename: 'a.bin' } });
    await first.stop();
    const id = created.split('/').pop() as string;
    const info = path.join(dataDir, `${id}.json`);
    const upload = JSON.parse(await fs.readFile(info, 'utf8')) as { metadata: Record<string, string> };
    upload.metadata['a\u007fb'] = 'v';
    await fs.writeFile(info, JSON.stringify(upload));
    // A new process (upload info is remembered per process): it reads the edited file.
    server = await startTessera({ dataDir });
    const url = `${server.endpoint}/${id}`;
    const res = await head(url).catch((error: Error) => error);
    expect(res instanceof Response ? res.status : 'connection ended').toBe(500);
    expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);
    expect((await create(server.endpoint, { length: 1 })).res.status).toBe(201);
  });
});
