import fs from 'node:fs';
import http from 'node:http';
import { speedRatio, type BenchCase, type CaseOutcome, unavailable } from '../lib/case.js';
import { removeStoredUploads, makeDataFile } from '../lib/data.js';
import { startServer } from '../lib/proc.js';
import { MiB, repeat, rotation, timed } from '../lib/stats.js';
import { tusJsUpload } from '../lib/tus-js.js';
import { tusCapabilities } from '../lib/tus-raw.js';
import { expectComplete } from '../lib/verify.js';

const PARTS = 4;

/** Case 3: tus-js-client `parallelUploads: 4` + assembly + whole-file SHA-256 vs one upload. */
export const parallelCase: BenchCase = {
  id: 'parallel',
  title: '3. tus-js-client parallelUploads: 4 + assembly + sha256 vs one upload (loopback)',
  goals: [],
  async run(ctx): Promise<CaseOutcome> {
    const size = (ctx.quick ? 32 : 256) * MiB;
    const tessera = await startServer('tessera', ctx.workDir);
    try {
      const caps = await tusCapabilities(tessera.endpoint);
      if (!caps.extensions.includes('concatenation')) return unavailable('no `concatenation` in Tus-Extension', []);
      const file = await makeDataFile(ctx.workDir, 'data.bin', size, 8 * MiB);
      const data = await fs.promises.readFile(file.path);
      await fs.promises.rm(file.path);
      const metadata = { filename: 'data.bin', sha256: file.sha256.toString('hex') };
      const reported = new Set<boolean>();
      const runOne = async (parallelUploads: number): Promise<number> => {
        // A fresh agent per upload: no run starts with warm connections from the previous one.
        const agent = new http.Agent({ keepAlive: true });
        try {
          let url = '';
          const seconds = await timed(async () => {
            url = await tusJsUpload({ endpoint: tessera.endpoint, data, parallelUploads, metadata, agent, timeoutMs: 120_000 });
          });
          reported.add((await expectComplete(url, size, file.sha256)).serverSha256 !== undefined);
          return seconds;
        } finally {
          agent.destroy();
          await removeStoredUploads(tessera.dataDir);
        }
      };
      const variants = [1, PARTS];
      for (const n of variants) await runOne(n); // untimed warm-up
      const samples = new Map<number, number[]>(variants.map((n) => [n, []]));
      const repetitions = await repeat(ctx.quick ? 3 : 5, ctx.budgetMs, async (rep) => {
        for (const n of rotation(variants, rep)) samples.get(n)?.push(await runOne(n));
        ctx.log(`repetition ${rep + 1} done`);
      });
      const one = samples.get(1) ?? [];
      const parallel = samples.get(PARTS) ?? [];
      return {
        status: 'ok',
        repetitions,
        params: { size: `${size / MiB} MiB` },
        rows: [
          { label: 'one upload (one PATCH), sha256 metadata', seconds: one, bytes: size },
          {
            label: `parallelUploads: ${PARTS} + final + sha256 metadata`,
            seconds: parallel,
            bytes: size,
            ratios: [{ value: speedRatio(parallel, one), vs: 'one upload', kind: 'speed' }],
          },
        ],
        goals: [],
        notes: [
          'Both send `Upload-Metadata: sha256 <hex of the whole file>`; time runs from start() to onSuccess (the final POST assembles and verifies before answering).',
          `Server-reported digest (Tessera-Sha256 on HEAD) checked after every run: ${reported.has(true) ? 'present and equal to the expected digest' : 'not reported'}${reported.size > 1 ? ' (only for some uploads)' : ''}.`,
          'On loopback the link is not the bottleneck, so this shows the cost of splitting and assembling; the slow-link case shows the gain.',
        ],
      };
    } finally {
      await tessera.stop();
    }
  },
};
