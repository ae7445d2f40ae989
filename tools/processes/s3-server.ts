import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface S3ServerProcess {
  /** e.g. http://127.0.0.1:41234 (path-style only). */
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** Requests and body bytes per S3 operation since the server started. */
  stats(): Promise<Record<string, { requests: number; bytesIn: number; bytesOut: number; bytesCopied: number; expectContinue: number }>>;
  /**
   * Makes the next `times` requests of `operation` (e.g. CompleteMultipartUpload) fail: answer
   * 500 at once (`error`), after reading the body (`after-body`), or arrive with the body's first
   * byte flipped (`flip`); `part` limits it to UploadPart of that part number.
   */
  failNext(operation: string, times?: number, fault?: { mode?: 'error' | 'after-body' | 'flip'; part?: number }): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts tools/s3-server (a small S3-compatible server) as its own node process on
 * 127.0.0.1 with a fresh data directory (removed on stop) and the given buckets.
 */
export async function startS3Server(options: { buckets?: readonly string[]; port?: number } = {}): Promise<S3ServerProcess> {
  const directory = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-s3-'));
  const credentials = { accessKeyId: 'tessera-test', secretAccessKey: 'tessera-test-secret' };
  const region = 'us-east-1';
  const args = ['--import', 'tsx', 'tools/s3-server/main.ts', '--dir', directory, '--port', String(options.port ?? 0), '--region', region, '--exit-with-parent'];
  for (const bucket of options.buckets ?? []) args.push('--bucket', bucket);
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? '',
      S3_SERVER_ACCESS_KEY_ID: credentials.accessKeyId,
      S3_SERVER_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the S3 test server did not start within 20 s')), 20_000);
    child.once('exit', (code) => reject(new Error(`the S3 test server exited with ${code} during start-up`)));
    createInterface({ input: child.stdout }).once('line', (line) => {
      clearTimeout(timer);
      resolve((JSON.parse(line) as { port: number }).port);
    });
  });
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    port,
    pid: child.pid ?? 0,
    region,
    credentials,
    async stats() {
      const res = await fetch(`${endpoint}/_test/stats`);
      return (await res.json()) as Awaited<ReturnType<S3ServerProcess['stats']>>;
    },
    async failNext(operation, times = 1, fault = {}) {
      const query = new URLSearchParams({ op: operation, times: String(times), mode: fault.mode ?? 'error' });
      if (fault.part !== undefined) query.set('part', String(fault.part));
      const res = await fetch(`${endpoint}/_test/fail?${query}`, { method: 'POST' });
      if (res.status !== 204) throw new Error(`s3 test server: /_test/fail answered ${res.status}`);
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      await fs.rm(directory, { recursive: true, force: true });
    },
  };
}
