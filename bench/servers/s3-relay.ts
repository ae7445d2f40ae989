/**
 * A naive S3 relay: a bare Node HTTP server that streams each request body into one
 * PutObject with the SDK configured as Tessera's, nothing else (no tus, no parts, no
 * metadata). `POST /upload/<name>` stores object <name>. It shows what an extra hop between
 * client and S3 costs on this machine before any tus work.
 */
import http from 'node:http';
import { S3 } from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/config/config.js';
import { s3ClientConfig } from '../../src/stores/s3/s3-store-adapter.js';

const { s3: settings } = loadConfig(process.env);
if (!settings) throw new Error('S3_BUCKET is required');
const { bucket, ...clientConfig } = s3ClientConfig(settings);
const client = new S3(clientConfig);

const server = http.createServer((req, res) => {
  const name = /^\/upload\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '')?.[1];
  const length = Number(req.headers['content-length']);
  if (req.method !== 'POST' || !name || !Number.isSafeInteger(length)) {
    res.writeHead(req.method === 'OPTIONS' ? 204 : 404).end();
    return;
  }
  client.putObject({ Bucket: bucket, Key: name, Body: req, ContentLength: length }).then(
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
