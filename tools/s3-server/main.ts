import { parseArgs } from 'node:util';
import { createS3Server } from './server.js';

/**
 * Runs the test S3 server as its own process:
 *   node --import tsx tools/s3-server/main.ts --dir DIR [--port 0] [--bucket NAME]...
 * Credentials come from S3_SERVER_ACCESS_KEY_ID / S3_SERVER_SECRET_ACCESS_KEY (defaults
 * are for tests only). Prints one JSON line {"port":N} once it listens on 127.0.0.1.
 */
const { values } = parseArgs({
  options: {
    dir: { type: 'string' },
    port: { type: 'string', default: '0' },
    region: { type: 'string', default: 'us-east-1' },
    bucket: { type: 'string', multiple: true, default: [] },
    'exit-with-parent': { type: 'boolean', default: false },
  },
});
// The launcher holds our stdin open; when it dies (even by SIGKILL) stdin ends, and so do we.
if (values['exit-with-parent']) {
  process.stdin.on('close', () => process.exit(0));
  process.stdin.resume();
}
if (!values.dir) throw new Error('--dir is required');

const { server } = createS3Server({
  directory: values.dir,
  region: values.region,
  buckets: values.bucket,
  credentials: {
    accessKeyId: process.env.S3_SERVER_ACCESS_KEY_ID ?? 'tessera-test',
    secretAccessKey: process.env.S3_SERVER_SECRET_ACCESS_KEY ?? 'tessera-test-secret',
  },
});
server.listen(Number(values.port), '127.0.0.1', () => {
  const address = server.address();
  if (address && typeof address === 'object') process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
});
const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
