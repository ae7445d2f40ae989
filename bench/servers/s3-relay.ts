/**
 * A naive S3 relay: a bare Node HTTP server that streams each request body into one
 * PutObject with the SDK configured as Tessera's, nothing else (no tus, no parts, no
 * metadata). `POST /upload/<name>` stores object <name>. It shows what an extra hop between
 * client and S3 costs on this machine before any tus work.
 */
import { S3 } from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/config/config.js';
import { s3ClientConfig } from '../../src/stores/s3/s3-store-adapter.js';
import { serve, uploadName } from './serve.js';

const { s3: settings } = loadConfig(process.env);
if (!settings) throw new Error('S3_BUCKET is required');
const { bucket, ...clientConfig } = s3ClientConfig(settings);
const client = new S3(clientConfig);

serve((req, res) => {
  const name = uploadName(req, res);
  if (!name) return;
  const length = Number(req.headers['content-length']);
  if (!Number.isSafeInteger(length)) {
    res.writeHead(411).end();
    return;
  }
  client.putObject({ Bucket: bucket, Key: name, Body: req, ContentLength: length }).then(
    () => res.writeHead(204).end(),
    () => res.writeHead(500).end(),
  );
});
