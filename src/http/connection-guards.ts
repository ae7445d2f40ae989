import type http from 'node:http';
import type { Socket } from 'node:net';

/**
 * Closes connections on which nothing moves for `timeoutMs` (tusd's network timeout): a
 * client that never sends a request, sits idle between requests, stalls in the middle of a
 * body, trickles its headers, or stops reading a response it is being sent. A body cut this
 * way ends like any interrupted one: the bytes received are kept by the usual rules and the
 * upload's lock is released. The time between the end of a request and the start of its
 * response is the server's own work (verification, assembly, a hook): it is never idleness.
 */
export function closeIdleConnections(server: http.Server, timeoutMs: number): void {
  if (timeoutMs <= 0) return;
  // Without a 'timeout' listener on the server, a socket idle this long is destroyed.
  server.timeout = timeoutMs;
  server.headersTimeout = Math.min(server.headersTimeout, timeoutMs);
  server.keepAliveTimeout = Math.min(server.keepAliveTimeout, timeoutMs);
  // A connection that never sends a byte is closed by a timer of its own, not only by the socket
  // timeout above: under load the suite once saw such a connection outlive it (twice in about
  // 15 full runs, never alone), and this guarantee must not rest on one mechanism.
  server.on('connection', (socket: Socket) => {
    const silent = setTimeout(() => {
      if (socket.bytesRead === 0 && !socket.destroyed) socket.destroy();
    }, timeoutMs);
    silent.unref();
    socket.once('close', () => clearTimeout(silent));
  });
  // Requests on a socket whose body is in and whose answer has not started: while there is
  // one (pipelining may queue several), the socket is waiting for the server, not idle.
  const serverWork = new WeakMap<Socket, number>();
  const rearm = (socket: Socket, ms: number) => {
    if (!socket.destroyed && (serverWork.get(socket) ?? 0) === 0) socket.setTimeout(ms);
  };
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const { socket } = req;
    let working = false;
    const start = () => {
      if (working || res.headersSent) return;
      working = true;
      serverWork.set(socket, (serverWork.get(socket) ?? 0) + 1);
      if (!socket.destroyed) socket.setTimeout(0);
    };
    const stop = () => {
      if (!working) return;
      working = false;
      serverWork.set(socket, (serverWork.get(socket) ?? 1) - 1);
    };
    const hasBody = req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
    if (hasBody) req.once('end', start);
    else start();
    // From the first byte of the response on, the client must keep reading it.
    const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => http.ServerResponse;
    res.writeHead = ((...args: unknown[]) => {
      stop();
      rearm(socket, timeoutMs);
      return writeHead(...args);
    }) as typeof res.writeHead;
    res.once('close', () => {
      stop();
      rearm(socket, server.keepAliveTimeout);
    });
  });
}

const TOO_MANY_BODY = 'Too many open connections from this address\n';
const TOO_MANY =
  'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Type: text/plain\r\n' +
  `Content-Length: ${Buffer.byteLength(TOO_MANY_BODY)}\r\n\r\n${TOO_MANY_BODY}`;

/**
 * Refuses a connection beyond `max` open ones from the same client address with a one-line
 * 503, so one client holding idle sockets cannot use up the server's file descriptors.
 * Behind a proxy every client shares the proxy's address: cap at the proxy instead (0 = off).
 */
export function capConnectionsPerClient(server: http.Server, max: number): void {
  if (max <= 0) return;
  const open = new Map<string, number>();
  // Before the HTTP parser is attached: a refused socket never reaches the application.
  server.prependListener('connection', (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    const count = (open.get(address) ?? 0) + 1;
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left <= 0) open.delete(address);
      else open.set(address, left);
    });
    if (count > max) {
      socket.pause();
      socket.end(TOO_MANY, () => socket.destroy());
    }
  });
}
