import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/ports.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Runs `npm run cluster`'s script with `args` until it prints its last start-up line. */
function startCluster(args: readonly string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'tools/cluster/main.ts', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const started = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('Ctrl-C stops everything.')) resolve(stdout);
    });
    void exited.then((code) => reject(new Error(`cluster exited with ${code}: ${stderr}`)));
  });
  return { child, started, exited, stderr: () => stderr };
}

describe('npm run cluster', () => {
  it('takes every port, keeps the data dir when asked, and writes one log file per instance', async () => {
    const [lb, a, b, redis] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const work = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-cluster-cmd-'));
    const logDir = path.join(work, 'logs');
    const run = startCluster(['--instances', '2', '--port', String(lb), '--instance-ports', `${a},${b}`, '--redis-port', String(redis), '--keep-data', '--log-dir', logDir]);
    try {
      const printed = await run.started;
      expect(printed).toContain(`behind nginx at http://127.0.0.1:${lb}/files`);
      expect(printed).toContain(`redis redis://127.0.0.1:${redis}`);
      expect(printed).toMatch(/data \S+ \(kept on exit\)/);
      expect(printed).toContain(`instance 1: http://127.0.0.1:${a}, log ${path.join(logDir, 'instance-1.log')}`);
      expect(printed).toContain(`instance 2: http://127.0.0.1:${b}, log ${path.join(logDir, 'instance-2.log')}`);
      for (const port of [lb, a, b]) expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      const dataDir = /data (\S+) \(/.exec(printed)?.[1] as string;
      run.child.kill('SIGINT');
      expect(await run.exited).toBe(0);
      expect((await fs.stat(dataDir)).isDirectory()).toBe(true);
      expect((await fs.readdir(logDir)).sort()).toEqual(['instance-1.log', 'instance-2.log']);
      await fs.rm(dataDir, { recursive: true, force: true });
    } finally {
      run.child.kill('SIGKILL');
      await fs.rm(work, { recursive: true, force: true });
    }
  }, 60_000);

  it('says a temp data dir is deleted on exit, and deletes it', async () => {
    const run = startCluster(['--instances', '1', '--port', String(await freePort())]);
    try {
      const printed = await run.started;
      expect(printed).toMatch(/data \S+ \(a temp dir, deleted on exit: pass --keep-data or --data-dir to keep it\)/);
      const dataDir = /data (\S+) \(/.exec(printed)?.[1] as string;
      run.child.kill('SIGINT');
      expect(await run.exited).toBe(0);
      await expect(fs.stat(dataDir)).rejects.toThrow();
    } finally {
      run.child.kill('SIGKILL');
    }
  }, 60_000);

  it('refuses bad flags with exit 2 and the usage', async () => {
    for (const args of [['--port', 'eighty'], ['--instances', '2', '--instance-ports', '1234'], ['--nope']]) {
      const run = startCluster(args);
      run.started.catch(() => undefined);
      expect(await run.exited).toBe(2);
      expect(run.stderr()).toMatch(/^cluster: /);
    }
  }, 60_000);
});
