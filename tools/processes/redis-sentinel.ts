import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './ports.js';
import { startRedis, waitForPing, type RedisProcess } from './redis-server.js';

export interface SentinelSet {
  /** The Sentinel master name. */
  readonly name: string;
  readonly sentinels: readonly { readonly host: string; readonly port: number }[];
  /** The first master, then its replica (which a failover promotes). */
  readonly servers: readonly RedisProcess[];
  /** The port of the master the sentinels name now. */
  masterPort(): Promise<number>;
  /** Kills the current master (SIGKILL) and resolves once the sentinels name the promoted replica. */
  failover(timeoutMs?: number): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A real Redis Sentinel deployment on loopback: a master, one replica, and three sentinels
 * (quorum 2) that declare the master down after 1 s and promote the replica. Throw-away: no
 * persistence, config files in a temp dir removed on stop.
 */
export async function startSentinelSet(name = 'tessera-master'): Promise<SentinelSet> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-sentinel-'));
  const master = await startRedis();
  const replica = await startRedis(undefined, undefined, ['--replicaof', '127.0.0.1', String(master.port)]);
  const sentinels: { host: string; port: number; stop(): Promise<void> }[] = [];
  for (let i = 0; i < 3; i += 1) {
    const port = await freePort();
    const conf = path.join(dir, `sentinel-${i}.conf`);
    await fs.writeFile(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${master.port} 2`,
        `sentinel down-after-milliseconds ${name} 1000`,
        `sentinel failover-timeout ${name} 5000`,
        `sentinel parallel-syncs ${name} 1`,
        '',
      ].join('\n'),
    );
    const child = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    await waitForPing(port, 5_000);
    sentinels.push({
      host: '127.0.0.1',
      port,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        await exited;
      },
    });
  }
  const ask = async <T>(command: (client: Redis) => Promise<T>): Promise<T> => {
    const client = new Redis({ host: '127.0.0.1', port: sentinels[0]?.port, lazyConnect: true, maxRetriesPerRequest: 0 });
    try {
      await client.connect();
      return await command(client);
    } finally {
      client.disconnect();
    }
  };
  const masterPort = async () => Number(((await ask((c) => c.call('SENTINEL', 'get-master-addr-by-name', name))) as string[])[1]);
  const until = async (check: () => Promise<boolean>, timeoutMs: number, what: string) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check().catch(() => false))) {
      if (Date.now() > deadline) throw new Error(`sentinels: ${what} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  // Ready once the sentinels know the replica and each other (a failover needs both).
  await until(
    async () => {
      const replicas = (await ask((c) => c.call('SENTINEL', 'replicas', name))) as unknown[][];
      const known = (await ask((c) => c.call('SENTINEL', 'sentinels', name))) as unknown[][];
      return replicas.length === 1 && known.length === 2;
    },
    20_000,
    'no replica or peers discovered',
  );
  const servers = [master, replica];
  return {
    name,
    sentinels: sentinels.map(({ host, port }) => ({ host, port })),
    servers,
    masterPort,
    async failover(timeoutMs = 30_000) {
      const before = await masterPort();
      await servers.find((s) => s.port === before)?.kill();
      await until(async () => (await masterPort()) !== before, timeoutMs, 'no replica promoted');
      return masterPort();
    },
    async stop() {
      for (const sentinel of sentinels) await sentinel.stop();
      for (const server of servers) await server.stop();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}
