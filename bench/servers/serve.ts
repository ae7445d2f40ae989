import http from 'node:http';

/**
 * Serves `listener` on HOST:PORT (the harness sets both) until SIGTERM, with no request
 * timeout: multi-GiB bodies take time.
 */
export function serve(listener: http.RequestListener): http.Server {
  const server = http.createServer(listener);
  server.requestTimeout = 0;
  server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
  process.on('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
  return server;
}

/**
 * The bare servers' protocol, `POST /upload/<name>`: the name, or undefined after answering
 * anything else (OPTIONS 204, so the harness sees the server up; the rest 404).
 */
export function uploadName(req: http.IncomingMessage, res: http.ServerResponse): string | undefined {
  const name = /^\/upload\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '')?.[1];
  if (req.method === 'POST' && name) return name;
  res.writeHead(req.method === 'OPTIONS' ? 204 : 404).end();
  return undefined;
}
