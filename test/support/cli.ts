import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitForEntry } from './wait-for-entry.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI_BIN = path.join(root, 'bin/tessera.js');

export type CliEvent = Record<string, unknown> & { event: string };

export interface CliRun {
  readonly child: ChildProcess;
  /** JSON lines parsed from stdout so far (with --json). */
  readonly events: CliEvent[];
  stdout(): string;
  stderr(): string;
  /** Resolves once an event matches, or rejects if the process ends first or `timeoutMs` passes. */
  waitForEvent(match: (event: CliEvent) => boolean, timeoutMs?: number): Promise<CliEvent>;
  /** Exit code (null when killed by a signal) and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns the real `tessera` command (bin/tessera.js) with `args`; HOME is the given dir. */
export function spawnCli(args: readonly string[], options: { home: string; env?: Record<string, string> }): CliRun {
  const child = spawn(process.execPath, [CLI_BIN, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', HOME: options.home, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: CliEvent[] = [];
  const listeners = new Set<() => void>();
  let out = '';
  let err = '';
  let pending = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      events.push(JSON.parse(line) as CliEvent);
    }
    for (const listener of listeners) listener();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  void exited.then(() => {
    for (const listener of listeners) listener();
  });
  return {
    child,
    events,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForEvent: (match, timeoutMs = 30_000) =>
      waitForEntry({ entries: events, listeners, child, stderr: () => err }, match, timeoutMs, 'the awaited event'),
  };
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly events: CliEvent[];
}

/** Runs the command to its end. */
export async function runCli(args: readonly string[], options: { home: string; env?: Record<string, string> }): Promise<CliResult> {
  const run = spawnCli(args, options);
  const { code } = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr(), events: run.events };
}
