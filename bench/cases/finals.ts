import http from 'node:http';
import { goal, type BenchCase, type Goal } from '../lib/case.js';
import { makeDataFile, removeStoredUploads } from '../lib/data.js';
import { startServer } from '../lib/proc.js';
import { readMemory, RssSampler } from '../lib/rss.js';
import { MiB, repeat, timed } from '../lib/stats.js';
import { tusCreate, tusPatchFile } from '../lib/tus-raw.js';
import { expectStatus, request } from '../lib/http-client.js';

const FINALS = 200;
const RSS_GOAL = `Tessera peak RSS < 300 MiB while ${FINALS} finals are assembled at once`;

/**
 * Case 9: issue #14's finding 9. 200 final POSTs sent at once, each over two complete partials:
 * whole-file work takes one of MAX_CONCURRENT_ASSEMBLIES slots (default 2) and the rest queue,
 * so the server's memory stays flat (an earlier version reached 866 MiB here).
 */
export const finalsCase: BenchCase = {
  id: 'finals',
  title: `9. ${FINALS} finals assembled at once: memory`,
  goals: [RSS_GOAL],
  async run(ctx) {
    const partSize = (ctx.quick ? 0.5 : 2) * MiB;
    const tessera = await startServer('tessera', ctx.workDir);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    try {
      const data = await makeDataFile(ctx.workDir, 'part.bin', partSize, partSize);
      const idle = readMemory(tessera.pid).rssMiB;
      let peak = 0;
      const seconds: number[] = [];
      const repetitions = await repeat(ctx.quick ? 1 : 2, ctx.budgetMs, async (rep) => {
        const partials = await Promise.all(
          Array.from({ length: FINALS * 2 }, async () => {
            const url = await tusCreate(tessera.endpoint, { length: partSize, concat: 'partial', agent });
            await tusPatchFile(url, { file: data.path, start: 0, length: partSize }, agent);
            return url;
          }),
        );
        const sampler = new RssSampler(tessera.pid, 20);
        try {
          seconds.push(
            await timed(async () => {
              await Promise.all(
                Array.from({ length: FINALS }, async (_, i) => {
                  const res = await request(tessera.endpoint, {
                    method: 'POST',
                    headers: { 'Tus-Resumable': '1.0.0', 'Upload-Concat': `final;${partials[2 * i]} ${partials[2 * i + 1]}` },
                    agent: new http.Agent({ keepAlive: false }),
                    timeoutMs: 300_000,
                  });
                  expectStatus(res, 201, 'final POST');
                }),
              );
            }),
          );
        } finally {
          peak = Math.max(peak, sampler.stop());
          await removeStoredUploads(tessera.dataDir);
        }
        ctx.log(`repetition ${rep + 1} done`);
      });
      const goals: Goal[] = [goal(RSS_GOAL, peak, '<', 300, ' MiB')];
      return {
        status: 'ok',
        repetitions,
        params: { finals: `${FINALS} at once, each of 2 × ${partSize / MiB} MiB partials` },
        rows: [
          {
            label: 'Tessera (MAX_CONCURRENT_ASSEMBLIES=2)',
            seconds,
            bytes: FINALS * 2 * partSize,
            extra: { 'idle RSS MiB': idle.toFixed(0), 'peak RSS MiB while assembling': peak.toFixed(0) },
          },
        ],
        goals,
        notes: ['Every final POST on its own connection, all sent together; VmRSS polled every 20 ms while they run.'],
      };
    } finally {
      agent.destroy();
      await tessera.stop();
    }
  },
};
