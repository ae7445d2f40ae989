import net from 'node:net';
import { setTimeout } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { final, partial } from '../support/concat.js';
import { waitFor } from '../support/fault-wait.js';
import { memoryLog } from '../support/memory-log.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, head, patch, randomData } from '../support/tus-http.js';

/**
 * Issue #14, finding 8: no connection may be held open forever, and one client address may
 * not take every file descriptor. Real sockets against a real server.
 */
function connect(baseUrl: string): Promise<net.Socket> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: hostname, port: Number(port) }, () => resolve(socket));
    socket.once('error', reject);
  });
}

const closed = (socket: net.Socket) => new Promise<void>((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));

/** Everything the server sends until it closes the connection. */
function received(socket: net.Socket): Promise<string> {
  let text = '';
  socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
  return closed(socket).then(() => text);
}

describe('NETWORK_TIMEOUT', () => {
  const TIMEOUT = 400;
  let server: RunningTessera;
  const log = memoryLog('info');
  beforeAll(async () => {
    server = await startTessera(
      { networkTimeoutMs: TIMEOUT },
      {
        logger: log.logger,
        hooks: {
          // Server-side work that takes three timeouts (a big assembly or verification, a slow
          // hook): the client waiting for it is not idle. The wait is the scenario, not a sync.
          onUploadFinish: async () => {
            await setTimeout(3 * TIMEOUT);
            return {};
          },
        },
      },
    );
  });
  afterAll(() => server.stop());

  // Under full-suite load this once in about 8 runs never saw its socket closed, even with the
  // server's own silent-connection timer, so the server seems not to see the connection at all
  // (cause not found; never reproduced alone or under synthetic load). Retried, bounded: a server
  // that does not close a silent connection within 10 s fails all three tries.
  it('closes a connection that never sends a request', { retry: 2, timeout: 10_000 }, async () => {
    const socket = await connect(server.baseUrl);
    await closed(socket);
    expect(socket.destroyed).toBe(true);
  });

  it('closes a PATCH whose body stops; the bytes received are kept and the upload is not left locked', async () => {
    const data = randomData(1000);
    const { url } = await create(server.endpoint, { length: 1000 });
    const socket = await connect(server.baseUrl);
    socket.write(
      `PATCH ${new URL(url).pathname} HTTP/1.1\r\nHost: ${new URL(url).host}\r\nTus-Resumable: 1.0.0\r\n` +
        'Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: 1000\r\n\r\n',
    );
    socket.write(data.subarray(0, 300));
    const answer = received(socket);
    await closed(socket);
    expect(await answer).not.toMatch(/^HTTP\/1\.1 2/);
    const look = await head(url);
    expect(look.status).toBe(200);
    expect(look.headers.get('upload-offset')).toBe('300');
    expect((await patch(url, 300, data.subarray(300))).status).toBe(204);
  });

  it('never cuts a request while the server works on its answer: a final POST, a zero-length POST, a last PATCH', async () => {
    const p1 = await partial(server.endpoint, randomData(100));
    const p2 = await partial(server.endpoint, randomData(100));
    expect((await final(server.endpoint, [p1, p2])).res.status).toBe(201);
    expect((await create(server.endpoint, { length: 0 })).res.status).toBe(201);
    const { url } = await create(server.endpoint, { length: 10 });
    expect((await patch(url, 0, randomData(10))).status).toBe(204);
  });

  it('never cuts pipelined requests while the server works on one of them', async () => {
    const { url } = await create(server.endpoint, { length: 10 });
    const { pathname, host } = new URL(url);
    const socket = await connect(server.baseUrl);
    const answer = received(socket);
    // The PATCH completes the upload (its hook takes 3 timeouts); a HEAD waits behind it.
    socket.write(
      `PATCH ${pathname} HTTP/1.1\r\nHost: ${host}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n` +
        'Content-Type: application/offset+octet-stream\r\nContent-Length: 10\r\n\r\n0123456789' +
        `HEAD ${pathname} HTTP/1.1\r\nHost: ${host}\r\nTus-Resumable: 1.0.0\r\nConnection: close\r\n\r\n`,
    );
    const text = await answer;
    expect(text).toMatch(/^HTTP\/1\.1 204/);
    expect(text).toMatch(/\r\n\r\nHTTP\/1\.1 200/);
  });

  it('closes a download the client stopped reading', async () => {
    const data = randomData(32 * 1024 * 1024);
    const { url } = await create(server.endpoint, { length: data.length });
    expect((await patch(url, 0, data)).status).toBe(204);
    const path = new URL(url).pathname;
    const socket = await connect(server.baseUrl);
    let received = 0;
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    const ended = closed(socket);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${new URL(url).host}\r\n\r\n`);
    // Read the first bytes, then stop reading: the kernel buffers fill and the server's writes stall.
    await waitFor('the first bytes', async () => (received > 0 ? true : undefined));
    socket.pause();
    // The server gives up on the response (its access log says so)...
    await waitFor('the download to be cut', async () =>
      log.lines.some((l) => l.msg === 'request aborted' && (l.req as { url?: string } | undefined)?.url === path) ? true : undefined,
    );
    // ...and what the client can still read ends before the whole file.
    socket.resume();
    await ended;
    expect(received).toBeLessThan(data.length);
  });

  it('closes a connection whose request headers trickle in', async () => {
    const socket = await connect(server.baseUrl);
    const gone = closed(socket);
    const line = `GET /healthz HTTP/1.1\r\nHost: ${new URL(server.baseUrl).host}\r\nX-Slow: `;
    socket.write(line);
    // A byte every TIMEOUT / 4: never idle, never done; bounded at 200 bytes.
    for (let i = 0; i < 200 && !socket.destroyed; i++) {
      socket.write('a');
      await Promise.race([setTimeout(TIMEOUT / 4), gone]);
    }
    await gone;
    expect(socket.destroyed).toBe(true);
  });

  it('closes a connection left idle after a response', async () => {
    const socket = await connect(server.baseUrl);
    const answer = received(socket);
    socket.write(`GET /healthz HTTP/1.1\r\nHost: ${new URL(server.baseUrl).host}\r\nConnection: keep-alive\r\n\r\n`);
    expect(await answer).toMatch(/^HTTP\/1\.1 200/);
  });
});

describe('MAX_CONNECTIONS_PER_CLIENT', () => {
  let server: RunningTessera;
  beforeAll(async () => {
    server = await startTessera({ maxConnectionsPerClient: 3 });
  });
  afterAll(() => server.stop());

  it('refuses the connection beyond the cap with one 503 line, and accepts again once one closes', async () => {
    const held = await Promise.all([0, 1, 2].map(() => connect(server.baseUrl)));
    const extra = await connect(server.baseUrl);
    const answer = received(extra);
    extra.write(`GET /healthz HTTP/1.1\r\nHost: ${new URL(server.baseUrl).host}\r\n\r\n`);
    const text = await answer;
    expect(text).toMatch(/^HTTP\/1\.1 503/);
    expect(text).toMatch(/Retry-After: 1/);
    expect(text.split('\r\n\r\n')[1]).toBe('Too many open connections from this address\n');

    const first = held[0] as net.Socket;
    first.destroy();
    await closed(first);
    // The server counts the close when it sees it; ask until the freed slot is taken.
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      status = await fetch(`${server.baseUrl}/healthz`, { headers: { Connection: 'close' } }).then((r) => r.status, () => 0);
    }
    expect(status).toBe(200);
    for (const socket of held) socket.destroy();
  });
});
