import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../src/config/node-flags.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface TesseraInstance {
  readonly port: number;
  readonly baseUrl: string;
  child: ChildProcess;
  /** Sends a signal (SIGKILL simulates a crash) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the instance again on the same port and environment. */
  restart(): Promise<void>;
}

/**
 * Runs `src/main.ts` as ONE node process (`node --import tsx`, not the tsx CLI, which would
 * put a wrapper process in between and make SIGKILL miss the server), with the V8 flags of
 * the production launchers, and waits for /readyz.
 * `nodeArgs` runs something else instead (e.g. the compiled build).
 */
export async function startTesseraInstance(
  port: number,
  env: Record<string, string>,
  nodeArgs: readonly string[] = [...NODE_FLAGS, '--import', 'tsx', 'src/main.ts'],
  /** Where its stdout and stderr go (appended); stdout is dropped and stderr inherited otherwise. */
  logFile?: string,
): Promise<TesseraInstance> {
  const launch = () => {
    const log = logFile ? fs.openSync(logFile, 'a') : undefined;
    const child = spawn(process.execPath, nodeArgs, {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', HOST: '127.0.0.1', PORT: String(port), ...env },
      stdio: log === undefined ? ['ignore', 'ignore', 'inherit'] : ['ignore', log, log],
    });
    if (log !== undefined) fs.closeSync(log);
    return child;
  };
  const baseUrl = `http://127.0.0.1:${port}`;
  const instance: TesseraInstance = {
    port,
    baseUrl,
    child: launch(),
    async kill(signal = 'SIGTERM') {
      const { child } = instance;
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      await exited;
    },
    async restart() {
      await instance.kill();
      instance.child = launch();
      await waitForHealth(baseUrl, instance.child);
    },
  };
  await waitForHealth(baseUrl, instance.child);
  return instance;
}

async function waitForHealth(baseUrl: string, child: ChildProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`tessera on ${baseUrl} exited with ${child.exitCode} during start-up`);
    const ok = await fetch(`${baseUrl}/readyz`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`tessera on ${baseUrl} was not ready within ${timeoutMs} ms`);
}
