import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boundedRequest } from '../support/bounded-request.js';
import { newBucket, s3ClientFor, s3ConfigFor, startS3Server, type S3ServerProcess } from '../support/s3.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create } from '../support/tus-http.js';


const TUS = { 'Tus-Resumable': '1.0.0' };

/**
 * Issue #22, item 7: an S3 that refuses connections or stops answering. Requests answer 503 with
 * Retry-After (not a bare 500), within the S3 network timeout (not never), /readyz says not
 * ready, and service resumes by itself when S3 is back.
 */
describe('S3 unreachable', () => {
  let s3: S3ServerProcess;
  let server: RunningTessera;
  let bucket: string;
  beforeAll(async () => {
    s3 = await startS3Server();
    bucket = await newBucket(s3ClientFor(s3), 'unreachable');
    server = await startTessera({ s3: { ...s3ConfigFor(s3, bucket), networkTimeoutMs: 1_000 } });
  }, 60_000);
  afterAll(async () => {
    await server.stop();
    await s3.stop();
  });

  it('a frozen S3 (a black hole): 503 with Retry-After within the timeout, not ready; back when it answers again', async () => {
    const { url } = await create(server.endpoint, { length: 10 });
    process.kill(s3.pid, 'SIGSTOP');
    try {
      // The SDK tries 3 times, each given up after 1 s of silence.
      const headed = await boundedRequest(url, 'HEAD', TUS, 15_000);
      expect(headed.status).toBe(503);
      expect(Number(headed.retryAfter)).toBeGreaterThan(0);
      const created = await boundedRequest(server.endpoint, 'POST', { ...TUS, 'Upload-Length': '5' }, 15_000);
      expect(created.status).toBe(503);
      expect((await boundedRequest(`${server.baseUrl}/readyz`, 'GET', {}, 15_000)).status).toBe(503);
    } finally {
      process.kill(s3.pid, 'SIGCONT');
    }
    expect((await boundedRequest(url, 'HEAD', TUS, 15_000)).status).toBe(200);
    expect((await boundedRequest(`${server.baseUrl}/readyz`, 'GET', {}, 15_000)).status).toBe(200);
  }, 60_000);

  it('S3 refusing connections: 503 with Retry-After at once; back when it listens again', async () => {
    const port = s3.port;
    await s3.stop();
    const refused = await boundedRequest(server.endpoint, 'POST', { ...TUS, 'Upload-Length': '5' }, 15_000);
    expect(refused.status).toBe(503);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    expect((await boundedRequest(`${server.baseUrl}/readyz`, 'GET', {}, 15_000)).status).toBe(503);
    s3 = await startS3Server({ port, buckets: [bucket] });
    expect((await create(server.endpoint, { length: 5 })).res.status).toBe(201);
  }, 60_000);
});
