import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { freePort } from '../../tools/processes/ports.js';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.js';
import { NODE_FLAGS } from '../../src/config/node-flags.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export type ServerKind = 'bare' | 'vanilla' | 'tessera' | 's3-relay';

const entryPoints: Record<ServerKind, { script: string; path: string }> = {
  bare: { script: 'bench/servers/bare-pipe.ts', path: '/upload' },
  vanilla: { script: 'bench/servers/vanilla-tus.ts', path: '/files' },
  tessera: { script: 'src/main.ts', path: '/files' },
  's3-relay': { script: 'bench/servers/s3-relay.ts', path: '/upload' },
};

export interface RunningServer {
  readonly kind: ServerKind;
  readonly pid: number;
  /** e.g. http://127.0.0.1:41234 */
  readonly baseUrl: string;
  /** Where uploads go: the tus endpoint, or the bare server's upload path. */
  readonly endpoint: string;
  readonly dataDir: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

export { freePort };

export interface StartOptions {
  readonly readyTimeoutMs?: number;
  /** Extra environment (e.g. S3_BUCKET); wins over the defaults. */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Starts a server as its own Node process (so it never shares the client's event loop), with
 * stdout/stderr going to a log file in `workDir`, and waits until it answers HTTP.
 */
export async function startServer(kind: ServerKind, workDir: string, options: StartOptions = {}): Promise<RunningServer> {
  const { readyTimeoutMs = 30_000, env = {} } = options;
  const entry = entryPoints[kind];
  const dataDir = path.join(workDir, `${kind}-data`);
  fs.mkdirSync(dataDir, { recursive: true });
  const logFile = path.join(workDir, `${kind}.log`);
  const logFd = fs.openSync(logFile, 'a');
  const port = await freePort();
  // Tessera runs with the V8 flags its own launchers use (src/config/node-flags.ts); the peers as stock.
  const flags = kind === 'tessera' ? NODE_FLAGS : [];
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', entry.script], {
    cwd: repoRoot,
    // The harness is one client address standing for many clients: no per-client connection cap.
    env: { ...process.env, HOST: '127.0.0.1', PORT: String(port), DATA_DIR: dataDir, LOG_LEVEL: 'info', MAX_CONNECTIONS_PER_CLIENT: '0', ...env },
    stdio: ['ignore', logFd, logFd],
  });
  fs.closeSync(logFd);
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not spawn the ${kind} server`);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const release = onCleanup(
    `${kind} server (pid ${pid})`,
    () => stopChild(child, exited),
    () => child.exitCode === null && child.kill('SIGKILL'),
  );
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${baseUrl}${entry.path}`, child, readyTimeoutMs);
  } catch (error) {
    await release();
    throw new Error(`${kind} server did not start: ${(error as Error).message}\n${tail(logFile)}`);
  }
  return { kind, pid, baseUrl, endpoint: `${baseUrl}${entry.path}`, dataDir, logFile, stop: release };
}

/** Starts several servers at once (startup is mostly waiting); all or none are left running. */
export async function startServers(kinds: readonly ServerKind[], workDir: string): Promise<RunningServer[]> {
  const settled = await Promise.allSettled(kinds.map((kind) => startServer(kind, workDir)));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (!failed) return settled.map((s) => (s as PromiseFulfilledResult<RunningServer>).value);
  for (const s of settled) if (s.status === 'fulfilled') await s.value.stop();
  throw failed.reason;
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function waitForHttp(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`exited with code ${child.exitCode}`);
    if (await answers(url)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`no answer from ${url} within ${timeoutMs} ms`);
}

function answers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request(url, { method: 'OPTIONS', headers: { 'Tus-Resumable': '1.0.0' }, agent: false, timeout: 1_000 });
    req.on('response', (res) => {
      res.resume();
      resolve(true);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** The last lines of a log, for error messages. */
export function tail(file: string, lines = 20): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Runs a command to completion (bounded), returning stdout; rejects on a non-zero exit. */
export function runCommand(cmd: string, args: readonly string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    const release = onCleanup(`${cmd} (pid ${child.pid})`, () => void child.kill('SIGKILL'), () => child.kill('SIGKILL'));
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      void release();
      if (code === 0) resolve(out);
      else reject(new Error(`${cmd} failed (${signal ?? code}): ${err.trim()}`));
    });
  });
}
