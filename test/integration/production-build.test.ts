import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../tools/processes/ports.js';
import { startTesseraInstance } from '../../tools/processes/tessera-instance.js';
import { create, offsetOf, patch, randomData } from '../support/tus-http.js';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');
// Inside the repository, so the compiled files resolve node_modules as the real build does.
const outDir = path.join(root, `.build-check-${randomUUID().slice(0, 8)}`);
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('the production build (what the Docker image runs)', () => {
  it('compiles with tsconfig.build.json and serves tus from plain JavaScript, stopping cleanly on SIGTERM', async () => {
    cleanups.push(() => fs.rm(outDir, { recursive: true, force: true }));
    await run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', outDir], { cwd: root });
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-built-'));
    cleanups.push(() => fs.rm(dataDir, { recursive: true, force: true }));

    const instance = await startTesseraInstance(await freePort(), { DATA_DIR: dataDir, WEB_UI: 'false', LOG_LEVEL: 'warn' }, [
      path.join(outDir, 'src/cli/index.js'),
      'serve',
    ]);
    cleanups.push(() => instance.kill('SIGKILL'));
    const data = randomData(256 * 1024);
    const { url } = await create(`${instance.baseUrl}/files`, { length: data.length });
    const digest = createHash('sha256').update(data).digest('base64');
    expect((await patch(url, 0, data, { 'Upload-Checksum': `sha256 ${digest}` })).status).toBe(204);
    expect(await offsetOf(url)).toBe(data.length);

    await instance.kill('SIGTERM');
    expect(instance.child.exitCode).toBe(0);
  });
});
