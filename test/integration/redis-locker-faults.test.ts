import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { TusError } from '../../src/errors.js';
import type { RedisLocker, RedisLockerOptions } from '../../src/locking/redis-locker.js';
import { startRedis, type RedisProcess } from '../support/redis.js';
import { holdUntilAsked, lockerInstance } from '../support/redis-locker.js';

const never = new AbortController().signal;
const noop = () => undefined;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function redisServers(count: number): Promise<RedisProcess[]> {
  const servers = await Promise.all(Array.from({ length: count }, () => startRedis()));
  cleanups.push(async () => void (await Promise.all(servers.map((s) => s.stop()))));
  return servers;
}

/** A locker instance (test/support/redis-locker.ts) with a quick Redis timeout, closed after the test. */
async function instance(urls: readonly string[], options: Partial<RedisLockerOptions> & { prefix: string }) {
  const { locker, close } = await lockerInstance(urls, { operationTimeoutMs: 300, ...options });
  cleanups.push(close);
  return locker;
}

/** Settles with the outcome of `promise`, or fails the test after `ms` instead of hanging. */
async function within<T>(ms: number, promise: Promise<T>): Promise<{ value?: T; error?: unknown }> {
  const guard = sleep(ms).then(() => {
    throw new Error(`still pending after ${ms} ms`);
  });
  return Promise.race([promise.then((value) => ({ value })), guard]).catch((error: unknown) => ({ error }));
}

describe('RedisLocker quorum faults', () => {
  it('keeps working with one of three masters down', async () => {
    const servers = await redisServers(3);
    const urls = servers.map((s) => s.url);
    const prefix = `q-${randomUUID()}:`;
    const a = await instance(urls, { prefix });
    const b = await instance(urls, { prefix });
    await servers[2]?.stop();

    const holder = a.newLock('one-down');
    const held = await holdUntilAsked(holder, 20);
    const waiter = b.newLock('one-down');
    const outcome = await within(5_000, waiter.lock(never, noop));
    expect(outcome.error).toBeUndefined();
    expect(held.asked()).toBeGreaterThanOrEqual(1);
    await waiter.unlock();
  });

  it('fails cleanly with 503 when two of three masters are down: new requests and waiters alike', async () => {
    const servers = await redisServers(3);
    const urls = servers.map((s) => s.url);
    const prefix = `q-${randomUUID()}:`;
    const dangers: string[] = [];
    const a = await instance(urls, { prefix, onDanger: (_id, state) => void dangers.push(state) });
    const b = await instance(urls, { prefix });

    const holder = a.newLock('two-down');
    let holderAsked = 0;
    await holder.lock(never, () => void (holderAsked += 1));
    const waiter = within(5_000, b.newLock('two-down').lock(never, noop));
    await sleep(100);
    await Promise.all([servers[0]?.stop(), servers[1]?.stop()]);

    const waited = await waiter;
    expect(waited.error).toBeInstanceOf(TusError);
    expect(waited.error).toMatchObject({ status_code: 503, code: 'ERR_REDIS_UNAVAILABLE' });

    const fresh = await within(2_000, b.newLock('other').lock(never, noop));
    expect(fresh.error).toMatchObject({ status_code: 503, headers: { 'Retry-After': '2' } });

    // The holder can no longer extend: it is asked to stop, and unlocking does not throw.
    const askedByWaiter = holderAsked;
    await expect.poll(() => dangers.length, { timeout: 5_000, interval: 20 }).toBeGreaterThanOrEqual(1);
    expect(holderAsked).toBeGreaterThan(askedByWaiter);
    await expect(holder.unlock()).resolves.toBeUndefined();
  });

  it('answers 503 within its Redis timeout when Redis hangs (connection open, no answers)', async () => {
    const [server] = await redisServers(1);
    if (!server) throw new Error('no redis');
    const proxy = await tcpProxy(server.port);
    cleanups.push(() => proxy.close());
    const locker = await instance([proxy.url], { prefix: `h-${randomUUID()}:`, operationTimeoutMs: 300 });
    const warm = locker.newLock('warm');
    await warm.lock(never, noop);
    await warm.unlock();
    proxy.stall();
    const hung = await within(3_000, locker.newLock('x').lock(never, noop));
    expect(hung.error).toMatchObject({ status_code: 503, code: 'ERR_REDIS_UNAVAILABLE' });
  });

  it('answers 503 at once when its only Redis is down, and recovers when it is back', async () => {
    const [server] = await redisServers(1);
    if (!server) throw new Error('no redis');
    const locker = await instance([server.url], { prefix: `d-${randomUUID()}:` });
    await server.stop();
    const down = await within(2_000, locker.newLock('x').lock(never, noop));
    expect(down.error).toMatchObject({ status_code: 503 });

    const restarted = await startRedis(server.port);
    cleanups.push(() => restarted.stop());
    // ioredis reconnects by itself; the locker needs nothing more.
    let lock: ReturnType<RedisLocker['newLock']> | undefined;
    for (let attempt = 0; attempt < 50 && !lock; attempt += 1) {
      const candidate = locker.newLock('x');
      const outcome = await within(2_000, candidate.lock(never, noop));
      if (outcome.error === undefined) lock = candidate;
      else await sleep(100);
    }
    expect(lock).toBeDefined();
    await lock?.unlock();
  });
});

describe('RedisLocker when a holder dies or is cut off', () => {
  it("frees a killed instance's lock within the TTL, after asking that process to release", async () => {
    const [server] = await redisServers(1);
    if (!server) throw new Error('no redis');
    const prefix = `k-${randomUUID()}:`;
    const fixture = fileURLToPath(new URL('./redis-locker-holder.fixture.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, server.url, prefix, 'doomed', '1000'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    await expect.poll(() => output, { timeout: 15_000, interval: 20 }).toContain('held');

    const locker = await instance([server.url], { prefix, retryMaxMs: 200 });
    let granted = false;
    const lock = locker.newLock('doomed');
    const done = lock.lock(never, noop).then(() => void (granted = true));
    // The other process hears the request to release, through Redis...
    await expect.poll(() => output, { timeout: 5_000, interval: 20 }).toContain('asked');
    // ...but keeps extending its lock while alive (longer than one TTL), so nobody gets in.
    await sleep(1_500);
    expect(granted).toBe(false);

    child.kill('SIGKILL');
    await within(5_000, done);
    expect(granted).toBe(true);
    await lock.unlock();
  });

  it('asks a holder that cannot extend its lock to stop before anyone else can take it', async () => {
    const [server] = await redisServers(1);
    if (!server) throw new Error('no redis');
    const proxy = await tcpProxy(server.port);
    cleanups.push(() => proxy.close());
    const prefix = `p-${randomUUID()}:`;
    const drainMs = 300;
    const dangers: string[] = [];
    // The holder reaches Redis only through the proxy; cutting it is a network partition.
    const cutOff = await instance([proxy.url], {
      prefix,
      releaseDrainMs: drainMs,
      lockTtlMs: 1_500,
      extendIntervalMs: 300,
      operationTimeoutMs: 200,
      onDanger: (_id, state) => void dangers.push(state),
    });
    // It polls often, so it would notice the very moment the key expires.
    const other = await instance([server.url], { prefix, acquireTimeoutMs: 10_000, retryMinMs: 10, retryMaxMs: 20 });

    // A writer that, like @tus/server, stops `drainMs` after it is asked to release.
    let writing = true;
    let asked = false;
    const holder = cutOff.newLock('partitioned');
    await holder.lock(never, () => {
      asked = true;
      setTimeout(() => void (writing = false), drainMs);
    });
    // Extensions keep it alive for several TTLs while the network is fine.
    await sleep(2_000);
    expect(asked).toBe(false);

    proxy.cut();
    let writerWhenGranted: boolean | undefined;
    const waiter = other.newLock('partitioned');
    await within(
      10_000,
      waiter.lock(never, noop).then(() => void (writerWhenGranted = writing)),
    );
    expect(asked).toBe(true);
    expect(dangers[0]).toBe('endangered');
    // The essential property: the cut-off holder had stopped writing before the lock moved.
    expect(writerWhenGranted).toBe(false);
    await waiter.unlock();
    // Unlocking a lock lost meanwhile is quiet: the request that held it must not break.
    await expect(holder.unlock()).resolves.toBeUndefined();
  });

  it('asks the holder at once when Redis comes back without its key (restart without persistence)', async () => {
    const [server] = await redisServers(1);
    if (!server) throw new Error('no redis');
    const dangers: string[] = [];
    const locker = await instance([server.url], {
      prefix: `r-${randomUUID()}:`,
      lockTtlMs: 3_000,
      extendIntervalMs: 200,
      onDanger: (_id, state) => void dangers.push(state),
    });
    let asked = 0;
    const holder = locker.newLock('amnesia');
    await holder.lock(never, () => void (asked += 1));
    await server.kill();
    const restarted = await startRedis(server.port);
    cleanups.push(() => restarted.stop());
    await expect.poll(() => dangers.includes('lost'), { timeout: 5_000, interval: 20 }).toBe(true);
    expect(asked).toBeGreaterThanOrEqual(1);
    await expect(holder.unlock()).resolves.toBeUndefined();
    // And the id is usable again.
    const next = locker.newLock('amnesia');
    await next.lock(never, noop);
    await next.unlock();
  });
});

describe('RedisLocker release', () => {
  it('answers unlock() without waiting for Redis, and the key stays until its delete has run', async () => {
    const [server] = await redisServers(1);
    if (!server) throw new Error('no redis');
    const options = { prefix: `r-${randomUUID()}:`, operationTimeoutMs: 3_000, lockTtlMs: 12_000 };
    const a = await instance([server.url], options);
    const b = await instance([server.url], options);
    const lock = a.newLock('u');
    await lock.lock(never, noop);

    server.freeze();
    try {
      expect((await within(500, lock.unlock())).error).toBeUndefined();
      // The delete is still on its way: this instance is not idle, the other cannot take the key.
      expect(await a.whenIdle(200)).toBe(false);
      const other = b.newLock('u');
      const taken = within(3_000, other.lock(never, noop));
      await sleep(200);
      server.thaw();
      expect((await taken).error).toBeUndefined();
      expect(await a.whenIdle(1_000)).toBe(true);
      await other.unlock();
    } finally {
      server.thaw();
    }
  });
});

/** A loopback TCP proxy to a Redis port that can be cut like a failed network link. */
async function tcpProxy(targetPort: number) {
  const sockets = new Set<net.Socket>();
  let stalled = false;
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    // Bytes are dropped while stalled, as by a hung server or a black-holed link.
    client.on('data', (chunk: Buffer) => void (stalled || upstream.write(chunk)));
    upstream.on('data', (chunk: Buffer) => void (stalled || client.write(chunk)));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `redis://127.0.0.1:${port}`,
    /** Keeps connections open but lets nothing through: Redis seems to hang. */
    stall() {
      stalled = true;
    },
    /** Drops every connection and refuses new ones. */
    cut() {
      server.close();
      for (const socket of sockets) socket.destroy();
    },
    async close() {
      this.cut();
    },
  };
}

