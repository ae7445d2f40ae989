import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.js';
import { spawnTessera, type TesseraProcess } from '../support/tessera-process.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Issue #19: on a terminal, `tessera serve` (what `npm start` runs) says in one human line where
 * tus and the upload page are; without one (a log collector) stdout stays JSON lines only. The
 * terminal is a real pseudo-terminal from util-linux `script`.
 */
describe('the start-up line', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it('is printed on a terminal, with the tus endpoint and the upload page', async () => {
    const port = await freePort();
    const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-tty-'));
    const child = spawn('script', ['-qfec', `${path.join(root, 'node_modules/.bin/tsx')} src/main.ts`, '/dev/null'], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PORT: String(port), HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    cleanups.push(async () => {
      if (child.pid) process.kill(-child.pid, 'SIGKILL');
      await fs.rm(dataDir, { recursive: true, force: true });
    });
    let output = '';
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const found = output.split(/\r?\n/).find((l) => l.startsWith('Tessera is listening'));
        if (found) resolve(found.trim());
      });
      child.once('exit', (code) => reject(new Error(`exited with ${code} before the line: ${output}`)));
    });
    expect(line).toBe(`Tessera is listening: tus endpoint http://127.0.0.1:${port}/files, upload page http://127.0.0.1:${port}/`);
  }, 60_000);

  it('is not printed without a terminal: stdout stays JSON lines', async () => {
    const proc: TesseraProcess = await spawnTessera();
    cleanups.push(() => proc.cleanup());
    const health = await fetch(`${proc.baseUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(proc.logs.filter((l) => l.unparsed)).toEqual([]);
  }, 60_000);
});
