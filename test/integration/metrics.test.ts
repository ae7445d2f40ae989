import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { final, partial, sha256Hex } from '../support/concat.js';
import { metricValue } from '../support/metrics.js';
import { startTessera, type RunningTessera } from '../support/tessera.js';
import { create, head, patch, randomData } from '../support/tus-http.js';
import { unfinishedPatch } from '../support/unfinished-patch.js';

let server: RunningTessera;
beforeAll(async () => {
  server = await startTessera();
});
afterAll(() => server.stop());

const m = (name: string, labels?: Record<string, string>) => metricValue(server.baseUrl, name, labels);

describe('/metrics', () => {
  it('serves Prometheus text with process metrics', async () => {
    const res = await fetch(`${server.baseUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    expect(await res.text()).toMatch(/^tessera_process_cpu_seconds_total /m);
  });

  it('with METRICS_TOKEN, answers only that bearer token (401 otherwise)', async () => {
    const guarded = await startTessera({ metricsToken: 'a-metrics-token-of-some-length' });
    try {
      const url = `${guarded.baseUrl}/metrics`;
      for (const headers of [{}, { Authorization: 'Bearer wrong-token-of-some-length' }, { Authorization: 'Basic YTpi' }] as Record<string, string>[]) {
        const refused = await fetch(url, { headers });
        expect(refused.status).toBe(401);
        expect(refused.headers.get('www-authenticate')).toBe('Bearer');
        expect((await refused.text()).trim().split('\n')).toHaveLength(1);
      }
      const allowed = await fetch(url, { headers: { Authorization: 'Bearer a-metrics-token-of-some-length' } });
      expect(allowed.status).toBe(200);
      expect(await allowed.text()).toMatch(/^tessera_process_cpu_seconds_total /m);
    } finally {
      await guarded.stop();
    }
  });

  it('with METRICS_PORT, /metrics is served on its own listener (with the token too), and the tus port answers it 404', async () => {
    const apart = await startTessera({ metricsListen: { host: '127.0.0.1', port: 0 }, metricsToken: 'a-metrics-token-of-some-length' });
    try {
      expect((await fetch(`${apart.baseUrl}/metrics`)).status).toBe(404);
      const url = apart.metricsUrl as string;
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      expect((await fetch(url)).status).toBe(401);
      const allowed = await fetch(url, { headers: { Authorization: 'Bearer a-metrics-token-of-some-length' } });
      expect(allowed.status).toBe(200);
      expect(await allowed.text()).toMatch(/^tessera_process_cpu_seconds_total /m);
      expect((await fetch(url.replace('/metrics', '/files'))).status).toBe(404);
    } finally {
      await apart.stop();
    }
  });

  it('counts uploads, bytes, checksum mismatches, assemblies and failures', async () => {
    const data = randomData(5000);
    const single = await create(server.endpoint, { length: data.length });
    expect((await patch(single.url, 0, data)).status).toBe(204);
    const bad = await patch(single.url, 0, data, { 'Upload-Checksum': `sha1 ${createHash('sha1').update('x').digest('base64')}` });
    expect(bad.status).toBe(409); // offset is already at the end; not a checksum failure

    const other = await create(server.endpoint, { length: 10 });
    const mismatch = await patch(other.url, 0, randomData(10), {
      'Upload-Checksum': `sha1 ${createHash('sha1').update('other').digest('base64')}`,
    });
    expect(mismatch.status).toBe(460);

    const parts = [randomData(100), randomData(200)];
    const urls = await Promise.all(parts.map((p) => partial(server.endpoint, p)));
    expect((await final(server.endpoint, urls, { sha256: sha256Hex(Buffer.concat(parts)) })).res.status).toBe(201);
    const failing = await final(server.endpoint, [...urls].reverse(), { sha256: sha256Hex(Buffer.concat(parts)) });
    expect(failing.res.status).toBe(460);

    expect(await m('tessera_uploads_created_total', { kind: 'single' })).toBe(2);
    expect(await m('tessera_uploads_created_total', { kind: 'partial' })).toBe(2);
    expect(await m('tessera_uploads_created_total', { kind: 'final' })).toBe(2);
    expect(await m('tessera_bytes_received_total')).toBe(5000 + 300);
    expect(await m('tessera_checksum_mismatches_total')).toBe(1);
    expect(await m('tessera_partials_finished_total')).toBe(2);
    expect(await m('tessera_uploads_finished_total')).toBe(2); // the single and the good final
    expect(await m('tessera_assemblies_total', { outcome: 'verified' })).toBe(1);
    expect(await m('tessera_assemblies_total', { outcome: 'failed' })).toBe(1);
    expect(await m('tessera_uploads_failed_total')).toBe(1);
    expect(await m('tessera_lock_wait_seconds_count')).toBeGreaterThan(0);
    // Wasted traffic (issue #21): the 10 bytes refused with 460 were received, then discarded.
    expect(await m('tessera_bytes_discarded_total', { reason: 'checksum-mismatch' })).toBe(10);
  });

  it('counts the bytes of a checksummed chunk cut short as discarded, by reason', async () => {
    const cutting = await startTessera({ lockDrainTimeoutMs: 200 });
    const { url } = await create(cutting.endpoint, { length: 1000 });
    const { req, written } = unfinishedPatch(url, 0, 1000, randomData(400), {
      'Upload-Checksum': `sha1 ${createHash('sha1').update(randomData(1000)).digest('base64')}`,
    });
    await written;
    try {
      // A HEAD takes the upload's lock: once the PATCH holds it, it is cut after the 400 bytes it
      // got, which cannot be verified and are discarded. (A HEAD may come before the PATCH took
      // the lock: it is answered, and the next one cuts the PATCH.)
      await expect
        .poll(
          async () => {
            expect((await head(url)).headers.get('upload-offset')).toBe('0');
            return metricValue(cutting.baseUrl, 'tessera_bytes_discarded_total', { reason: 'cut-short' });
          },
          { timeout: 10_000 },
        )
        .toBe(400);
      expect(await metricValue(cutting.baseUrl, 'tessera_bytes_received_total')).toBe(0);
    } finally {
      req.destroy();
      await cutting.stop();
    }
  });
});
