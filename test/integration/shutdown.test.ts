import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnTessera, type TesseraProcess } from '../support/tessera-process.js';
import { create, randomData, TUS } from '../support/tus-http.js';
import { digestOf } from '../support/bytes.js';

const SIZE = 256 * 1024;

/** Opens a PATCH of `SIZE` bytes on its own connection and sends the first half only. */
function startSlowPatch(url: string, body: Buffer) {
  const target = new URL(url);
  const req = http.request({
    host: target.hostname,
    port: Number(target.port),
    path: target.pathname,
    method: 'PATCH',
    agent: false,
    headers: {
      ...TUS,
      'Upload-Offset': '0',
      'Content-Type': 'application/offset+octet-stream',
      'Content-Length': String(body.length),
    },
  });
  const response = new Promise<{ status: number; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    req.once('response', (res) => {
      res.resume();
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.once('error', reject);
  });
  // A failed request must not surface as an unhandled rejection before the test awaits it.
  response.catch(() => undefined);
  req.write(body.subarray(0, body.length / 2));
  return { req, response };
}

/** True once a TCP connect to the port is refused. */
function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

async function waitForBytesOnDisk(file: string): Promise<void> {
  await expect
    .poll(async () => (await fs.stat(file).catch(() => undefined))?.size ?? 0, { timeout: 10_000, interval: 10 })
    .toBeGreaterThan(0);
}

describe('graceful shutdown of the real process', () => {
  let proc: TesseraProcess | undefined;
  afterEach(async () => {
    await proc?.cleanup();
    proc = undefined;
  });

  it('on SIGTERM refuses new connections, lets an in-flight PATCH finish, releases locks and exits 0', async () => {
    proc = await spawnTessera({ SHUTDOWN_TIMEOUT: '20s' });
    const { res, url } = await create(proc.endpoint, { length: SIZE });
    expect(res.status).toBe(201);
    const id = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');

    const body = randomData(SIZE);
    const slow = startSlowPatch(url, body);
    await waitForBytesOnDisk(path.join(proc.dataDir, id));

    proc.child.kill('SIGTERM');
    await proc.waitForLog('shutting down');
    await expect.poll(() => connectionRefused(proc?.port ?? 0), { timeout: 5_000, interval: 20 }).toBe(true);
    expect(proc.child.exitCode).toBeNull();

    slow.req.end(body.subarray(SIZE / 2));
    const answer = await slow.response;
    expect(answer.status).toBe(204);
    expect(answer.headers['upload-offset']).toBe(String(SIZE));

    expect(await proc.exited).toBe(0);
    expect(digestOf(await fs.readFile(path.join(proc.dataDir, id)))).toBe(digestOf(body));
    const stopped = await proc.waitForLog('tessera stopped');
    expect(stopped.heldLocks).toBe(0);
    expect(proc.logs.some((l) => l.msg === 'drain timed out; closing remaining connections')).toBe(false);
  });

  it('on SIGINT cuts a request that never finishes at SHUTDOWN_TIMEOUT and still exits 0', async () => {
    proc = await spawnTessera({ SHUTDOWN_TIMEOUT: '500ms' });
    const { url } = await create(proc.endpoint, { length: SIZE });
    const id = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');

    const slow = startSlowPatch(url, randomData(SIZE));
    await waitForBytesOnDisk(path.join(proc.dataDir, id));

    proc.child.kill('SIGINT');
    expect(await proc.exited).toBe(0);
    await expect(slow.response).rejects.toThrow();
    expect(proc.logs.some((l) => l.msg === 'drain timed out; closing remaining connections')).toBe(true);
    // The cut request unwound and let go of its upload lock before the process left.
    expect(proc.logs.find((l) => l.msg === 'tessera stopped')?.heldLocks).toBe(0);
    slow.req.destroy();
  });
});
