import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TesseraHooks } from '../../src/tus/hooks.js';
import { CLI_BIN, runCli, spawnCli, type CliEvent } from '../support/cli.js';
import { crashTessera } from '../support/cli-server-crash.js';
import { startThrottleProxy } from '../support/cli-throttle-proxy.js';
import { startCorruptingProxy } from '../support/corrupting-proxy.js';
import { freePort } from '../support/ports.js';
import { spawnTessera } from '../support/tessera-process.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { head } from '../support/tus-http.js';

const MiB = 1024 * 1024;

/** The real `tessera upload` process against real servers. */
describe('tessera upload (CLI)', () => {
  let work: string;
  let fileCount = 0;

  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-cli-'));
  });
  afterAll(() => fs.rm(work, { recursive: true, force: true }));

  const home = () => work;
  const stateDir = () => path.join(work, 'state');

  async function makeFile(size: number): Promise<{ file: string; sha256: string }> {
    const data = randomBytes(size);
    const file = path.join(work, `file-${(fileCount += 1)}.bin`);
    await fs.writeFile(file, data);
    return { file, sha256: createHash('sha256').update(data).digest('hex') };
  }

  const uploadArgs = (file: string, endpoint: string, ...extra: string[]) => [
    'upload',
    file,
    '--endpoint',
    endpoint,
    '--state-dir',
    stateDir(),
    ...extra,
  ];

  async function storedSha256(dataDir: string, url: string): Promise<string> {
    const id = new URL(url).pathname.split('/').pop() as string;
    return createHash('sha256').update(await fs.readFile(path.join(dataDir, id))).digest('hex');
  }

  async function storedEntries(): Promise<{ parallelUploadUrls: string[] | null; uploadUrl: string | null }[]> {
    const dir = path.join(stateDir(), 'uploads');
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    return Promise.all(names.filter((n) => n.endsWith('.json')).map(async (n) => JSON.parse(await fs.readFile(path.join(dir, n), 'utf8'))));
  }

  const ofKind = (events: CliEvent[], event: string) => events.filter((e) => e.event === event);
  const errorLines = (stderr: string) => stderr.trim().split('\n');

  /** A server whose PATCHes can be slowed and counted (Content-Length as declared). */
  async function countingServer(overrides: Parameters<typeof startTessera>[0] = {}, hooks: TesseraHooks = {}) {
    const stats = { patches: 0, patchBytes: 0, patchDelayMs: 0, checksums: [] as (string | null)[], partials: 0, creations: 0 };
    let onPatch: ((count: number) => void) | undefined;
    const server = await startTessera(overrides, {
      hooks: {
        onIncomingRequest: async (req) => {
          if (req.method !== 'PATCH') return;
          stats.patches += 1;
          stats.patchBytes += Number(req.headers.get('content-length') ?? 0);
          stats.checksums.push(req.headers.get('upload-checksum'));
          onPatch?.(stats.patches);
          if (stats.patchDelayMs > 0) await sleep(stats.patchDelayMs);
        },
        onUploadCreate: async (req) => {
          stats.creations += 1;
          if (req.headers.get('upload-concat') === 'partial') stats.partials += 1;
          return {};
        },
        ...hooks,
      },
    });
    return {
      server,
      stats,
      onPatch: (listener: (count: number) => void) => {
        onPatch = listener;
      },
      reset: () => Object.assign(stats, { patches: 0, patchBytes: 0, checksums: [], partials: 0, creations: 0 }),
    };
  }

  /** Offsets the server holds for the stored upload, once they stopped moving. */
  async function settledOffsets(urls: string[]): Promise<number[]> {
    let previous: number[] = [];
    for (let i = 0; i < 50; i += 1) {
      const offsets = await Promise.all(urls.map(async (url) => Number((await head(url)).headers.get('upload-offset'))));
      if (offsets.join() === previous.join()) return offsets;
      previous = offsets;
      await sleep(100);
    }
    throw new Error('offsets kept moving');
  }

  describe('against an in-process server', () => {
    let tessera: RunningTessera;
    beforeAll(async () => {
      tessera = await startTessera();
    });
    afterAll(() => tessera.stop());

    it('uploads a file, prints only its URL on stdout and plain progress lines on stderr', async () => {
      const { file, sha256 } = await makeFile(8 * MiB);
      const result = await runCli(uploadArgs(file, tessera.endpoint, '--chunk-size', '2MiB', '-m', 'owner=cli test'), { home: home() });

      expect(result.stderr).toContain(`verified 8.0 MiB`);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^${tessera.endpoint}/[0-9a-f]+\\n$`));
      const url = result.stdout.trim();
      // --checksum auto (the default) takes crc32, which Tessera offers.
      expect(result.stderr).toMatch(/^tessera: uploading .* \(8\.0 MiB\) to .*: one upload, 2\.0 MiB chunks, crc32 chunk checksums$/m);
      expect(result.stderr).toContain(`sha256 ${sha256}`);
      expect(result.stderr).not.toMatch(/\x1b\[/); // no terminal codes when stderr is not a TTY
      expect(result.stderr.match(/^tessera: 8\.0 MiB \/ 8\.0 MiB \(100%\)/gm) ?? []).toHaveLength(1);

      const info = await head(url);
      expect(info.headers.get('tessera-upload-status')).toBe('done');
      expect(info.headers.get('tessera-sha256')).toBe(sha256);
      expect(info.headers.get('upload-metadata')).toContain(`owner ${Buffer.from('cli test').toString('base64')}`);
      expect(await storedSha256(tessera.dataDir, url)).toBe(sha256);
      // A verified upload leaves nothing to resume.
      expect(await storedEntries()).toHaveLength(0);
    });

    it('reports a missing file (exit 3) and bad arguments (exit 2) in one line', async () => {
      const missing = await runCli(uploadArgs(path.join(work, 'nope.bin'), tessera.endpoint), { home: home() });
      expect(missing.code).toBe(3);
      expect(errorLines(missing.stderr)).toEqual([`tessera: error: cannot read ${path.join(work, 'nope.bin')}: no such file`]);

      const usage = await runCli(uploadArgs(path.join(work, 'nope.bin'), tessera.endpoint, '--parallel', '0'), { home: home() });
      expect(usage.code).toBe(2);
      expect(errorLines(usage.stderr)).toHaveLength(1);
      expect(usage.stderr).toMatch(/^tessera: error: option .*--parallel.* must be an integer from 1 to 64/);
    });

    it('draws live bars with one bar per part on a terminal', async () => {
      const { file } = await makeFile(4 * MiB);
      const command = [process.execPath, CLI_BIN, ...uploadArgs(file, tessera.endpoint, '--parallel', '2', '--chunk-size', '512KiB')]
        .map((arg) => `'${arg.replaceAll("'", `'\\''`)}'`)
        .join(' ');
      // script(1) runs the command on a pseudo-terminal, as a person's shell would.
      const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { PATH: process.env.PATH ?? '', HOME: home(), TERM: 'xterm' } });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(0);
      expect(output).toMatch(/total\s+\S*█/);
      expect(output).toMatch(/part 1 /);
      expect(output).toMatch(/part 2 /);
      expect(output).toContain('100%');
      expect(output).toContain('\x1b['); // cursor control: a live bar, not lines
      // Every drawing of the total fits the terminal (80 columns here): never cut before its ETA.
      const totals = output.match(/total .*?\x1b\[0K/g) ?? [];
      expect(totals.length).toBeGreaterThan(0);
      for (const line of totals) expect(line).toMatch(/ETA \S/);
      expect(output).toMatch(/verified 4\.0 MiB/);
    });
  });

  it('uploads in 4 parallel parts with sha256 chunk checksums, byte-identical', async () => {
    const { server, stats } = await countingServer();
    try {
      const { file, sha256 } = await makeFile(32 * MiB);
      const result = await runCli(
        uploadArgs(file, server.endpoint, '--parallel', '4', '--checksum', 'sha256', '--chunk-size', '4MiB', '--json'),
        { home: home() },
      );
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const done = ofKind(result.events, 'done')[0] as CliEvent;
      expect(done.sha256).toBe(sha256);
      expect(done.size).toBe(32 * MiB);
      expect(stats.partials).toBe(4);
      expect(stats.patches).toBe(8);
      for (const header of stats.checksums) expect(header).toMatch(/^sha256 [A-Za-z0-9+/]{43}=$/);
      const lastProgress = ofKind(result.events, 'progress').at(-1) as CliEvent;
      expect(lastProgress.parts).toHaveLength(4);
      expect((await head(done.url as string)).headers.get('upload-concat')).toMatch(/^final;(\S+ ){3}\S+$/);
      expect(await storedSha256(server.dataDir, done.url as string)).toBe(sha256);
    } finally {
      await server.stop();
    }
  });

  it('killed (SIGKILL) mid-upload, a re-run resumes the parallel partials and sends only the remainder', async () => {
    const { server, stats, onPatch, reset } = await countingServer();
    try {
      const size = 48 * MiB;
      const { file, sha256 } = await makeFile(size);
      const args = uploadArgs(file, server.endpoint, '--parallel', '4', '--chunk-size', '1MiB', '--checksum', 'crc32', '--json');
      stats.patchDelayMs = 100;
      const first = spawnCli(args, { home: home() });
      onPatch((count) => {
        if (count === 16) first.child.kill('SIGKILL');
      });
      expect((await first.exited).signal).toBe('SIGKILL');
      onPatch(() => {});

      const [entry] = await storedEntries();
      const urls = entry?.parallelUploadUrls ?? [];
      expect(urls).toHaveLength(4);
      const offsets = await settledOffsets(urls);
      const held = offsets.reduce((a, b) => a + b, 0);
      expect(held).toBeGreaterThan(0);
      expect(held).toBeLessThan(size);

      reset();
      stats.patchDelayMs = 0;
      const second = await runCli(args, { home: home() });
      expect(second.stderr).toBe('');
      expect(second.code).toBe(0);
      expect(ofKind(second.events, 'resume')).toHaveLength(1);
      expect(stats.partials).toBe(0); // the same partials, not new ones
      const remainder = size - held;
      expect(stats.patchBytes).toBeGreaterThanOrEqual(remainder);
      // At most one chunk per part more (a request cut short by the kill is resent).
      expect(stats.patchBytes).toBeLessThanOrEqual(remainder + 4 * MiB);
      const done = ofKind(second.events, 'done')[0] as CliEvent;
      expect(done.resumed).toBe(true);
      expect(done.sha256).toBe(sha256);
      expect(await storedSha256(server.dataDir, done.url as string)).toBe(sha256);
    } finally {
      await server.stop();
    }
  });

  it('Ctrl-C (SIGINT) stops cleanly with exit 130 and the re-run resumes from the server offset', async () => {
    const { server, stats, onPatch, reset } = await countingServer();
    try {
      const size = 16 * MiB;
      const { file, sha256 } = await makeFile(size);
      const args = uploadArgs(file, server.endpoint, '--chunk-size', '1MiB', '--json');
      stats.patchDelayMs = 100;
      const first = spawnCli(args, { home: home() });
      onPatch((count) => {
        if (count === 6) first.child.kill('SIGINT');
      });
      expect((await first.exited).code).toBe(130);
      onPatch(() => {});
      expect(errorLines(first.stderr())).toHaveLength(1);
      // Expected and resumable: said as what happened, not as an error.
      expect(first.stderr()).toMatch(/^tessera: interrupted at .* of 16\.0 MiB; run the same command again to resume$/m);
      expect(first.stderr()).not.toMatch(/error/);
      expect(ofKind(first.events, 'error')[0]?.kind).toBe('interrupted');

      const [entry] = await storedEntries();
      const [held] = await settledOffsets([entry?.uploadUrl as string]);
      expect(held).toBeGreaterThan(0);

      reset();
      stats.patchDelayMs = 0;
      const second = await runCli(args, { home: home() });
      expect(second.code).toBe(0);
      expect(stats.patchBytes).toBe(size - (held as number));
      const done = ofKind(second.events, 'done')[0] as CliEvent;
      expect(done.resumed).toBe(true);
      expect(done.url).toBe(entry?.uploadUrl);
      expect(await storedSha256(server.dataDir, done.url as string)).toBe(sha256);
    } finally {
      await server.stop();
    }
  });

  it('completes when the server is restarted mid-upload (retries with backoff)', async () => {
    const size = 16 * MiB;
    const { file, sha256 } = await makeFile(size);
    const first = await spawnTessera();
    let second: Awaited<ReturnType<typeof spawnTessera>> | undefined;
    const proxy = await startThrottleProxy({ host: '127.0.0.1', port: first.port }, 4 * MiB);
    try {
      const cli = spawnCli(
        uploadArgs(file, `${proxy.url}/files`, '--parallel', '2', '--chunk-size', '1MiB', '--checksum', 'sha256', '--json'),
        { home: home() },
      );
      await cli.waitForEvent((e) => e.event === 'progress' && (e.bytesUploaded as number) >= 4 * MiB);
      await crashTessera(first);
      await cli.waitForEvent((e) => e.event === 'retry');
      second = await spawnTessera({ PORT: String(first.port), DATA_DIR: first.dataDir });

      const { code } = await cli.exited;
      expect(cli.stderr()).toBe('');
      expect(code).toBe(0);
      const done = ofKind(cli.events, 'done')[0] as CliEvent;
      expect(done.sha256).toBe(sha256);
      expect(done.sentThisRun as number).toBeLessThanOrEqual(size + 2 * MiB);
      expect(await storedSha256(first.dataDir, done.url as string)).toBe(sha256);
    } finally {
      await proxy.stop();
      if (second) await crashTessera(second);
      await crashTessera(first);
      await second?.cleanup();
      await first.cleanup();
    }
  });

  it('serve runs the server (what npm start runs); the same binary uploads to it; SIGTERM stops it', async () => {
    const port = await freePort();
    const dataDir = path.join(work, 'serve-data');
    const serve = spawn(process.execPath, [CLI_BIN, 'serve', '--port', String(port), '--data-dir', dataDir], {
      env: { PATH: process.env.PATH ?? '', HOME: home(), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => serve.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        let logs = '';
        serve.stdout.on('data', (chunk: Buffer) => {
          logs += chunk.toString();
          if (logs.includes('"tessera listening"')) resolve();
        });
        void exited.then((code) => reject(new Error(`serve exited with ${code}`)));
      });
      const { file, sha256 } = await makeFile(2 * MiB);
      const result = await runCli(uploadArgs(file, `http://127.0.0.1:${port}/files`), { home: home() });
      expect(result.code).toBe(0);
      expect(await storedSha256(dataDir, result.stdout.trim())).toBe(sha256);
    } finally {
      serve.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('serve takes the HOOKS_* settings as flags too, checked like the variables (one line, exit 2)', async () => {
    const result = await runCli(['serve', '--port', '0', '--hooks-http-url', 'ftp://hooks.example.com'], { home: home() });
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe('Invalid configuration: HOOKS_HTTP_URL must be an http:// or https:// URL');
  });

  describe('integrity', () => {
    let server: Awaited<ReturnType<typeof countingServer>>;
    beforeAll(async () => {
      server = await countingServer();
    });
    afterAll(() => server.server.stop());

    it.each([
      ['--checksum sha256', ['--checksum', 'sha256']],
      ['the default (--checksum auto: crc32)', []],
    ])('resends a chunk damaged in transit (460) and succeeds: %s', async (_name, checksumArgs) => {
      const proxy = await startCorruptingProxy(server.server.baseUrl, { corruptPatch: 2, byteIndex: 1000 });
      try {
        const { file, sha256 } = await makeFile(4 * MiB);
        const result = await runCli(uploadArgs(file, `${proxy.url}/files`, ...checksumArgs, '--chunk-size', '1MiB', '--json'), {
          home: home(),
        });
        expect(result.stderr).toBe('');
        expect(result.code).toBe(0);
        expect(proxy.corrupted).toBe(1);
        const retries = ofKind(result.events, 'retry');
        expect(retries).toHaveLength(1);
        expect(retries[0]?.status).toBe(460);
        const done = ofKind(result.events, 'done')[0] as CliEvent;
        expect(await storedSha256(server.server.dataDir, done.url as string)).toBe(sha256);
      } finally {
        await proxy.stop();
      }
    });

    it('without chunk checksums (--checksum none), the whole-file SHA-256 catches the damage: exit 7, not retried, and the message points at the remedy', async () => {
      const proxy = await startCorruptingProxy(server.server.baseUrl, { corruptPatch: 2, byteIndex: 1000 });
      try {
        const { file } = await makeFile(4 * MiB);
        const result = await runCli(uploadArgs(file, `${proxy.url}/files`, '--chunk-size', '1MiB', '--checksum', 'none', '--json'), { home: home() });
        expect(result.code).toBe(7);
        expect(proxy.corrupted).toBe(1);
        expect(ofKind(result.events, 'retry')).toHaveLength(0);
        expect(ofKind(result.events, 'error')[0]).toMatchObject({ kind: 'sha256-mismatch', status: 460, exitCode: 7 });
        expect(errorLines(result.stderr)).toHaveLength(1);
        expect(result.stderr).toMatch(/^tessera: error: the server's SHA-256 of the uploaded file does not match this file \(460\)/);
        expect(result.stderr).toMatch(/\(with --checksum auto, a chunk damaged on the way is refused and resent instead\)$/m);
        expect(await storedEntries()).toHaveLength(0);
      } finally {
        await proxy.stop();
      }
    });
  });

  describe('refusals', () => {
    it('413: a file over the server maximum is refused before any upload is created (exit 6)', async () => {
      const { server, stats } = await countingServer({ maxSize: MiB });
      try {
        const { file } = await makeFile(2 * MiB);
        const result = await runCli(uploadArgs(file, server.endpoint, '--json'), { home: home() });
        expect(result.code).toBe(6);
        expect(errorLines(result.stderr)).toEqual([
          'tessera: error: the file is 2.0 MiB (2097152 bytes) but the server accepts at most 1.0 MiB (1048576 bytes, Tus-Max-Size) (413)',
        ]);
        expect(ofKind(result.events, 'error')[0]).toMatchObject({ kind: 'too-large', status: 413 });
        expect(stats.creations + stats.patches).toBe(0);
      } finally {
        await server.stop();
      }
    });

    it('403 from the server is reported as forbidden (exit 5), not retried; --header carries credentials', async () => {
      const { server } = await countingServer(
        {},
        {
          onIncomingRequest: async (req) => {
            if (req.headers.get('authorization') !== 'Bearer s3cret') throw { status_code: 403, body: 'Forbidden\n' };
          },
        },
      );
      try {
        const { file, sha256 } = await makeFile(MiB);
        const refused = await runCli(uploadArgs(file, server.endpoint, '--json'), { home: home() });
        expect(refused.code).toBe(5);
        expect(errorLines(refused.stderr)).toEqual(['tessera: error: the server refused the upload (403 Forbidden): Forbidden']);
        expect(ofKind(refused.events, 'retry')).toHaveLength(0);

        const allowed = await runCli(uploadArgs(file, server.endpoint, '--json', '--header', 'Authorization: Bearer s3cret'), { home: home() });
        expect(allowed.code).toBe(0);
        expect(ofKind(allowed.events, 'done')[0]?.sha256).toBe(sha256);
      } finally {
        await server.stop();
      }
    });

    it('an unreachable endpoint is retried, then reported (exit 4)', async () => {
      const port = await freePort();
      const { file } = await makeFile(MiB);
      const endpoint = `http://127.0.0.1:${port}/files`;
      const result = await runCli(uploadArgs(file, endpoint, '--retries', '1', '--json'), { home: home() });
      expect(result.code).toBe(4);
      expect(ofKind(result.events, 'retry')).toHaveLength(1);
      expect(errorLines(result.stderr)).toEqual([
        `tessera: error: cannot reach ${endpoint}: connect ECONNREFUSED 127.0.0.1:${port} (gave up after 1 retry)`,
      ]);
    });
  });
});
