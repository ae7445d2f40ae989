import fs from 'node:fs';
import http from 'node:http';
import { goal, speedRatio, type BenchCase, type CaseOutcome, unavailable } from '../lib/case.js';
import { removeStoredUploads, makeDataFile } from '../lib/data.js';
import { startServer } from '../lib/proc.js';
import { MiB, repeat, rotation, timed } from '../lib/stats.js';
import { startThrottleProxy } from '../lib/throttle-proxy.js';
import { tusJsUpload } from '../lib/tus-js.js';
import { tusCapabilities } from '../lib/tus-raw.js';
import { expectComplete } from '../lib/verify.js';

const PARTS = 4;
const BYTES_PER_SECOND = 1_250_000;
const LATENCY_MS = 50;
const GOAL = `parallelUploads: ${PARTS} ≥ 3.5× faster than one upload over the slow link`;

/**
 * Case 5: the promise of parallel uploads. Each TCP connection through the proxy is capped, as
 * on a per-flow-shaped link, so N connections carry N times the bytes.
 */
export const slowLinkCase: BenchCase = {
  id: 'slow-link',
  title: `5. Slow link (${BYTES_PER_SECOND / 1e6} MB/s and +${LATENCY_MS} ms per direction, per connection): parallelUploads: ${PARTS} vs one upload`,
  goals: [GOAL],
  async run(ctx): Promise<CaseOutcome> {
    const size = (ctx.quick ? 4 : 40) * MiB;
    const tessera = await startServer('tessera', ctx.workDir);
    const proxy = await startThrottleProxy({
      targetPort: Number(new URL(tessera.baseUrl).port),
      bytesPerSecond: BYTES_PER_SECOND,
      latencyMs: LATENCY_MS,
    });
    try {
      const caps = await tusCapabilities(tessera.endpoint);
      if (!caps.extensions.includes('concatenation')) return unavailable('no `concatenation` in Tus-Extension', [GOAL]);
      const file = await makeDataFile(ctx.workDir, 'data.bin', size, 8 * MiB);
      const data = await fs.promises.readFile(file.path);
      const metadata = { filename: 'data.bin', sha256: file.sha256.toString('hex') };
      const endpoint = `${proxy.baseUrl}${new URL(tessera.endpoint).pathname}`;
      const bulkConnections: number[] = [];

      const runOne = async (parallelUploads: number): Promise<number> => {
        const agent = new http.Agent({ keepAlive: true });
        const before = proxy.upstreamBytesPerConnection().length;
        try {
          let url = '';
          const seconds = await timed(async () => {
            url = await tusJsUpload({ endpoint, data, parallelUploads, metadata, agent, timeoutMs: 180_000 });
          });
          await expectComplete(url, size, file.sha256, agent);
          // Concurrent requests on one keep-alive agent each get their own socket; check it, since
          // partials sharing a connection would share its cap and void the comparison.
          const bulk = proxy.upstreamBytesPerConnection().slice(before).filter((b) => b >= size / PARTS / 2).length;
          if (parallelUploads > 1) {
            if (bulk < parallelUploads) throw new Error(`partials used ${bulk} bulk connections, expected ${parallelUploads}`);
            bulkConnections.push(bulk);
          }
          return seconds;
        } finally {
          agent.destroy();
          await removeStoredUploads(tessera.dataDir);
        }
      };
      const variants = [1, PARTS];
      const samples = new Map<number, number[]>(variants.map((n) => [n, []]));
      // Quick: one repetition (the link is paced, so runs barely vary), leaving room in the minute for the cluster and S3 cases.
      const repetitions = await repeat(ctx.quick ? 1 : 2, ctx.budgetMs, async (rep) => {
        for (const n of rotation(variants, rep)) samples.get(n)?.push(await runOne(n));
        ctx.log(`repetition ${rep + 1} done`);
      });
      const one = samples.get(1) ?? [];
      const parallel = samples.get(PARTS) ?? [];
      const ratio = speedRatio(parallel, one);
      return {
        status: 'ok',
        repetitions,
        params: { size: `${size / MiB} MiB`, cap: `${BYTES_PER_SECOND / 1e6} MB/s per connection per direction`, latency: `+${LATENCY_MS} ms per direction` },
        rows: [
          { label: 'one upload, sha256 metadata', seconds: one, bytes: size },
          {
            label: `parallelUploads: ${PARTS}, sha256 metadata`,
            seconds: parallel,
            bytes: size,
            ratios: [{ value: ratio, vs: 'one upload', kind: 'speed' }],
          },
        ],
        goals: [goal(GOAL, ratio, '>=', 3.5)],
        notes: [
          'Proxy: bench/lib/throttle-proxy.ts (each connection paced at the cap with a 100 ms queue, then delayed by the latency, in both directions).',
          `Connections carrying a partial's body, per parallel run: ${bulkConnections.join(', ')} (each partial on its own connection).`,
          `Ideal ratio here: ${(size / BYTES_PER_SECOND).toFixed(1)} s of wire time alone vs ${(size / BYTES_PER_SECOND / PARTS).toFixed(1)} s, plus round trips (one upload: POST, PATCH; parallel: POSTs, PATCHes, final POST).`,
        ],
      };
    } finally {
      await proxy.close();
      await tessera.stop();
    }
  },
};
