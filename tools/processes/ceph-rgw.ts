import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

const run = promisify(execFile);

export interface CephRgw {
  /** e.g. http://127.0.0.1:41234 (path-style). */
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** The radosgw process (tests freeze it with SIGSTOP). */
  readonly pid: number;
  /** Frees deleted objects now (RGW otherwise waits for its garbage-collection delay). */
  collectGarbage(): Promise<void>;
  /** Stops every daemon and removes the cluster's directory. */
  stop(): Promise<void>;
}

/** True when the Ceph daemons a one-node RGW needs are installed (Debian: ceph-mon ceph-osd radosgw). */
export function cephAvailable(): boolean {
  return ['ceph-mon', 'ceph-osd', 'radosgw', 'monmaptool'].every((binary) => spawnSync('which', [binary], { stdio: 'ignore' }).status === 0);
}

/**
 * A real S3 implementation for tests: Ceph's RADOS Gateway (Debian's ceph 16.2) on a one-node
 * cluster in a temp dir, on free loopback ports: one monitor, one OSD keeping objects in RAM
 * (memstore, `memoryBytes`), no authentication between the daemons, and RGW's garbage collector
 * set to seconds rather than hours. The daemons run in the foreground as children of this
 * process and are killed with it (recipe: ../shared/notes/facts.md). Starts in about 15 s.
 */
export async function startCephRgw(options: { memoryBytes?: number } = {}): Promise<CephRgw> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-ceph-'));
  const [monPort, rgwPort] = [await freePort(), await freePort()];
  const conf = path.join(dir, 'ceph.conf');
  const fsid = randomUUID();
  await fs.writeFile(
    conf,
    [
      '[global]',
      `fsid = ${fsid}`,
      // Messenger v1 only, named as such: several clusters start at once in a test run, and a
      // daemon guessing the protocol of an address once connected to one that spoke the other.
      `mon host = [v1:127.0.0.1:${monPort}]`,
      'ms bind msgr2 = false',
      'auth cluster required = none',
      'auth service required = none',
      'auth client required = none',
      'osd pool default size = 1',
      'osd pool default min size = 1',
      'mon allow pool size one = true',
      'mon warn on pool no redundancy = false',
      'osd pool default pg autoscale mode = off',
      `run dir = ${dir}/run`,
      `log file = ${dir}/log/$name.log`,
      `admin socket = ${dir}/run/$name.asok`,
      `keyring = ${dir}/keyring`,
      'ms bind ipv4 = true',
      'ms bind ipv6 = false',
      '[mon.a]',
      `mon data = ${dir}/mon`,
      `public addr = 127.0.0.1:${monPort}`,
      '[osd.0]',
      `osd data = ${dir}/osd`,
      'osd objectstore = memstore',
      `memstore device bytes = ${options.memoryBytes ?? 1024 ** 3}`,
      '[client.rgw.a]',
      `rgw frontends = beast endpoint=127.0.0.1:${rgwPort}`,
      `rgw data = ${dir}/rgw`,
      'rgw gc obj min wait = 5',
      'rgw gc processor period = 5',
      '',
    ].join('\n'),
  );
  await Promise.all(['run', 'log', 'mon', 'osd', 'rgw'].map((d) => fs.mkdir(path.join(dir, d), { recursive: true })));
  const children: ChildProcess[] = [];
  const daemon = (command: string, args: readonly string[]) => {
    // -f keeps the daemon in the foreground, under a shell that kills it once this process is
    // gone (however it ended, kill -9 included): no Ceph daemon outlives the tests.
    const watch = `"$@" & d=$!; while kill -0 ${process.pid} 2>/dev/null && kill -0 $d 2>/dev/null; do sleep 1; done; kill -9 $d 2>/dev/null; wait $d`;
    const child = spawn('sh', ['-c', watch, 'sh', command, '-f', '-c', conf, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    child.once('exit', (code, signal) => {
      if (!stopping && (code !== 0 || signal)) console.error(`ceph-rgw: ${command} exited (${code ?? signal}): ${stderr.trim()}`);
    });
    children.push(child);
  };
  let stopping = false;
  const ceph = (...args: string[]) => run('ceph', ['-c', conf, '--connect-timeout', '20', ...args], { timeout: 60_000 });
  const stop = async () => {
    stopping = true;
    const exited = children.map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
        }),
    );
    // Every daemon of this cluster names its config, in its own temp dir; each watching shell then ends.
    spawnSync('pkill', ['-9', '-f', conf]);
    await Promise.all(exited);
    await waitUntil(async () => spawnSync('pgrep', ['-f', conf]).status !== 0, 10_000, 'the Ceph daemons ending');
    await fs.rm(dir, { recursive: true, force: true });
  };
  try {
    await run('monmaptool', ['--create', '--fsid', fsid, '--addv', 'a', `[v1:127.0.0.1:${monPort}]`, path.join(dir, 'monmap')]);
    await run('ceph-authtool', ['--create-keyring', path.join(dir, 'keyring'), '--gen-key', '-n', 'mon.', '--cap', 'mon', 'allow *']);
    await run('ceph-mon', ['-c', conf, '--mkfs', '-i', 'a', '--monmap', path.join(dir, 'monmap'), '--keyring', path.join(dir, 'keyring')]);
    daemon('ceph-mon', ['-i', 'a']);
    await ceph('osd', 'create');
    await run('ceph-osd', ['-c', conf, '-i', '0', '--mkfs']);
    await ceph('osd', 'crush', 'add', 'osd.0', '1.0', 'host=localhost', 'root=default');
    daemon('ceph-osd', ['-i', '0']);
    daemon('radosgw', ['-n', 'client.rgw.a']);
    const endpoint = `http://127.0.0.1:${rgwPort}`;
    await waitUntil(async () => (await fetch(endpoint).catch(() => undefined))?.status === 200, 90_000, `RGW at ${endpoint}`);
    const credentials = { accessKeyId: `tessera${randomBytes(6).toString('hex')}`, secretAccessKey: randomBytes(20).toString('hex') };
    await run('radosgw-admin', ['-c', conf, 'user', 'create', '--uid=tessera', '--display-name=tessera', `--access-key=${credentials.accessKeyId}`, `--secret=${credentials.secretAccessKey}`], {
      timeout: 60_000,
    });
    const pid = Number(spawnSync('pgrep', ['-f', `radosgw -f -c ${conf}`], { encoding: 'utf8' }).stdout.trim().split('\n')[0]);
    return {
      endpoint,
      region: 'us-east-1',
      credentials,
      pid,
      collectGarbage: async () => {
        await run('radosgw-admin', ['-c', conf, 'gc', 'process', '--include-all'], { timeout: 60_000 });
      },
      stop,
    };
  } catch (error) {
    // What the daemons said last, for the failure: their logs go with the cluster's directory.
    const logDir = path.join(dir, 'log');
    const logs = await fs.readdir(logDir).catch(() => [] as string[]);
    const tails = await Promise.all(
      logs.map(async (name) => {
        const lines = (await fs.readFile(path.join(logDir, name), 'utf8').catch(() => '')).trim().split('\n');
        return `${name}: ${lines.filter((line) => / -1 |error|fail/i.test(line)).slice(-3).join(' | ') || lines.slice(-2).join(' | ')}`;
      }),
    );
    await stop();
    throw new Error(`Ceph RGW did not start (${(error as Error).message}); ${tails.join('; ')}`);
  }
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${what} did not answer within ${timeoutMs} ms`);
}
