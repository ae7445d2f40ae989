import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { boundedRequest } from '../support/bounded-request.js';
import { startSentinelSet, type SentinelSet } from '../../tools/processes/redis-sentinel.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { uploadWithTusJs } from '../support/tus-js.js';
import { head, randomData } from '../support/tus-http.js';

const MiB = 1024 * 1024;
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');


/**
 * Redis high availability: two instances in shared mode reach Redis through real Sentinel
 * processes (REDIS_SENTINELS). The master is killed while an upload runs; the sentinels promote
 * the replica. Nothing is lost or corrupted, requests during the switch answer at once (503 with
 * Retry-After when they need Redis), none hangs, and service resumes by itself.
 */
describe('Redis Sentinel failover (shared mode)', () => {
  let sentinels: SentinelSet;
  let dataDir: string;
  let a: RunningTessera;
  let b: RunningTessera;

  beforeAll(async () => {
    sentinels = await startSentinelSet();
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-sentinel-'));
    const redis = { url: 'redis://', sentinel: { nodes: sentinels.sentinels, name: sentinels.name }, lockUrls: ['redis://'], prefix: 'sentinel:' };
    a = await startTessera({ dataDir, redis });
    b = await startTessera({ dataDir, redis });
  }, 60_000);
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await sentinels?.stop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('an upload running through a failover completes verified; requests during the switch answer, none hangs', async () => {
    const data = randomData(24 * MiB);
    let failedOver = false;
    let switching: Promise<void> | undefined;
    const during: { status: number; retryAfter?: string }[] = [];
    const upload = uploadWithTusJs(data, {
      endpoint: a.endpoint,
      chunkSize: MiB,
      metadata: { filename: 'ha.bin', sha256: sha256(data) },
      // Rides out the switch: about 2-3 s here.
      retryDelays: [200, 500, 1000, 1000, 2000, 2000, 3000, 3000, 5000],
      onProgress: (sent) => {
        if (failedOver || sent < 6 * MiB) return;
        failedOver = true;
        switching = (async () => {
          const promoted = sentinels.failover();
          // Requests while the master is gone and after: each answers within the bound.
          for (let i = 0; i < 10; i += 1) {
            during.push(await boundedRequest(`${b.endpoint}`, 'POST', { 'Tus-Resumable': '1.0.0', 'Upload-Length': '1' }, 5_000));
          }
          await promoted;
        })();
      },
    });
    const url = await upload;
    await switching;
    expect(failedOver).toBe(true);
    expect(await sentinels.masterPort()).toBe(sentinels.servers[1]?.port);
    // The switch was seen: the master was gone for a while, and requests said so at once.
    expect(during.some((answer) => answer.status === 503)).toBe(true);
    for (const answer of during) {
      expect([201, 503]).toContain(answer.status);
      if (answer.status === 503) expect(Number(answer.retryAfter)).toBeGreaterThan(0);
    }
    const status = await head(url);
    expect(status.headers.get('tessera-upload-status')).toBe('done');
    expect(status.headers.get('tessera-sha256')).toBe(sha256(data));
    const stored = await fs.readFile(path.join(dataDir, new URL(url).pathname.split('/').pop() as string));
    expect(sha256(stored)).toBe(sha256(data));

    // After the switch both instances work against the promoted master, locks included.
    const after = await uploadWithTusJs(randomData(2 * MiB), { endpoint: b.endpoint, chunkSize: MiB, retryDelays: [500, 1000, 2000] });
    expect((await head(after)).headers.get('tessera-upload-status')).toBe('done');
    expect((await fetch(`${a.baseUrl}/readyz`)).status).toBe(200);
  }, 90_000);
});
