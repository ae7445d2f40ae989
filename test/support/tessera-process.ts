import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './ports.js';
import { waitForEntry } from './wait-for-entry.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface TesseraProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly baseUrl: string;
  readonly endpoint: string;
  readonly dataDir: string;
  /** Parsed JSON log lines from stdout so far. */
  readonly logs: Record<string, unknown>[];
  /** Everything written to stderr so far. */
  stderr(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  /** Resolves with the first log line matching `msg`, within `timeoutMs`. */
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Kills the process if still running and removes its data dir. */
  cleanup(): Promise<void>;
}

/**
 * Runs the real program (`tsx src/main.ts`, what `npm start` runs) on a free loopback port
 * with its own data dir, and waits until it logs that it listens.
 */
export async function spawnTessera(env: Record<string, string> = {}): Promise<TesseraProcess> {
  const port = await freePort();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-proc-'));
  const child = spawn(path.join(root, 'node_modules/.bin/tsx'), ['src/main.ts'], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const listeners = new Set<() => void>();
  let pending = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const parts = pending.split('\n');
    pending = parts.pop() ?? '';
    for (const line of parts) {
      if (!line.trim()) continue;
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ msg: line, unparsed: true });
      }
    }
    for (const listener of listeners) listener();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => {
    for (const listener of listeners) listener();
  });

  const waitForLog = (msg: string, timeoutMs = 15_000) =>
    waitForEntry({ entries: logs, listeners, child, stderr: () => stderr }, (l) => l.msg === msg, timeoutMs, `the log "${msg}"`);

  const running: TesseraProcess = {
    child,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    endpoint: `http://127.0.0.1:${port}${env.TUS_PATH ?? '/files'}`,
    dataDir,
    logs,
    stderr: () => stderr,
    exited,
    waitForLog,
    async cleanup() {
      if (child.exitCode === null && child.signalCode === null) {
        // The server runs under the tsx wrapper, which cannot pass SIGKILL on: kill its children
        // first, or the server outlives the test (see crashTessera).
        const pid = child.pid;
        const children = pid === undefined ? '' : await fs.readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
        for (const grandchild of children.split(/\s+/).filter(Boolean)) {
          try {
            process.kill(Number(grandchild), 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
        child.kill('SIGKILL');
        await exited;
      }
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
  try {
    await waitForLog('tessera listening');
  } catch (error) {
    await running.cleanup();
    throw error;
  }
  return running;
}
