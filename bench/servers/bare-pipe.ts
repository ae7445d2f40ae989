/**
 * The physical limit of this stack: a bare Node HTTP server that appends each request body to
 * a file, nothing else. `POST /upload/<name>` appends (so chunked uploads are N requests).
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';

const dir = process.env.DATA_DIR ?? '.';
const server = http.createServer((req, res) => {
  const name = /^\/upload\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '')?.[1];
  if (req.method !== 'POST' || !name) {
    res.writeHead(req.method === 'OPTIONS' ? 204 : 404).end();
    return;
  }
  pipeline(req, fs.createWriteStream(path.join(dir, name), { flags: 'a' })).then(
    () => res.writeHead(204).end(),
    () => res.writeHead(500).end(),
  );
});
server.requestTimeout = 0;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
