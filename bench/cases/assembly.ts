import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { goal, timeRatio, type BenchCase, type CaseOutcome, unavailable } from '../lib/case.js';
import { removeStoredUploads, makeDataFile } from '../lib/data.js';
import { runCommand, startServer } from '../lib/proc.js';
import { MiB, repeat, rotation, timed } from '../lib/stats.js';
import { encodeMetadata, tusCapabilities, tusCreate, tusHead, tusPatchFile } from '../lib/tus-raw.js';
import { expectStoredSize } from '../lib/uploads.js';
import { expectComplete } from '../lib/verify.js';
import { expectStatus, request } from '../lib/http-client.js';

const PARTS = 4;
const GOAL = 'final POST (assembly + sha256 verification) ≤ 1.0× the time of cat | tee | openssl dgst -sha256';

/**
 * Case 4: the final POST that assembles 4 partials and verifies the whole-file SHA-256, against
 * the single-pass shell baseline over the very same partial files in the server's data dir.
 */
export const assemblyCase: BenchCase = {
  id: 'assembly',
  title: '4. Assembly + verification of a final from 4 partials vs cat | tee | openssl',
  goals: [GOAL],
  async run(ctx): Promise<CaseOutcome> {
    const partSize = (ctx.quick ? 32 : 256) * MiB;
    const total = PARTS * partSize;
    const tessera = await startServer('tessera', ctx.workDir);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const caps = await tusCapabilities(tessera.endpoint);
      if (!caps.extensions.includes('concatenation')) return unavailable('no `concatenation` in Tus-Extension', [GOAL]);
      const data = await makeDataFile(ctx.workDir, 'data.bin', total, 8 * MiB);
      const baselineOut = path.join(ctx.workDir, 'baseline-final');
      const metadata = encodeMetadata({ sha256: data.sha256.toString('hex') });

      const uploadPartials = async (): Promise<{ urls: string[]; files: string[] }> => {
        const urls: string[] = [];
        for (let i = 0; i < PARTS; i += 1) {
          const url = await tusCreate(tessera.endpoint, { length: partSize, concat: 'partial', agent });
          await tusPatchFile(url, { file: data.path, start: i * partSize, length: partSize }, agent);
          urls.push(url);
        }
        return { urls, files: urls.map((u) => expectStoredSize(tessera.dataDir, u, partSize)) };
      };
      const assemble = async (urls: string[]): Promise<number> => {
        let finalUrl = '';
        const seconds = await timed(async () => {
          const res = await request(tessera.endpoint, {
            method: 'POST',
            headers: { 'Tus-Resumable': '1.0.0', 'Upload-Concat': `final;${urls.join(' ')}`, 'Upload-Metadata': metadata },
            agent,
            timeoutMs: 300_000,
          });
          expectStatus(res, 201, 'final POST');
          finalUrl = new URL(String(res.headers.location), tessera.endpoint).href;
          maxHeads = Math.max(maxHeads, await untilComplete(finalUrl, total, agent));
        });
        await expectComplete(finalUrl, total, data.sha256, agent);
        expectStoredSize(tessera.dataDir, finalUrl, total);
        return seconds;
      };
      const baseline = async (files: string[]): Promise<number> => {
        let out = '';
        const seconds = await timed(async () => {
          out = await runCommand(
            'sh',
            ['-c', 'out=$1; shift; cat "$@" | tee "$out" | openssl dgst -sha256', 'sh', baselineOut, ...files],
            300_000,
          );
        });
        if (!out.includes(data.sha256.toString('hex'))) throw new Error(`baseline digest mismatch: ${out.trim()}`);
        await fs.promises.rm(baselineOut);
        return seconds;
      };

      let maxHeads = 0;
      const samples = { tessera: [] as number[], baseline: [] as number[] };
      const repetitions = await repeat(ctx.quick ? 3 : 5, ctx.budgetMs, async (rep) => {
        const { urls, files } = await uploadPartials();
        for (const which of rotation(['tessera', 'baseline'] as const, rep)) {
          samples[which].push(which === 'tessera' ? await assemble(urls) : await baseline(files));
        }
        await removeStoredUploads(tessera.dataDir);
        ctx.log(`repetition ${rep + 1} done`);
      });
      const ratio = timeRatio(samples.tessera, samples.baseline);
      return {
        status: 'ok',
        repetitions,
        params: { partials: `${PARTS} × ${partSize / MiB} MiB`, final: `${total / MiB} MiB` },
        rows: [
          { label: 'cat p1..p4 | tee final | openssl dgst -sha256', seconds: samples.baseline, bytes: total },
          {
            label: 'Tessera final POST (assemble + sha256 verify)',
            seconds: samples.tessera,
            bytes: total,
            ratios: [{ value: ratio, vs: 'cat | tee | openssl', kind: 'time' }],
          },
        ],
        goals: [goal(GOAL, ratio, '<=', 1.0)],
        notes: [
          'Partials are uploaded untimed each repetition; both sides then read the same partial files (DATA_DIR/<id>, page cache warm) and write a final of the same size on the same disk.',
          'The timed request carries `Upload-Metadata: sha256 <hex>`; the time runs until a HEAD shows the final complete ' +
            (maxHeads <= 1 ? '(the first HEAD always did: assembly happened inside the POST).' : `(up to ${maxHeads} HEADs were needed: assembly continued after the POST).`),
        ],
      };
    } finally {
      agent.destroy();
      await tessera.stop();
    }
  },
};

/** Waits (bounded) until HEAD reports the final complete, in case a server assembles in the background. */
async function untilComplete(url: string, size: number, agent: http.Agent): Promise<number> {
  const end = Date.now() + 300_000;
  for (let heads = 1; Date.now() < end; heads += 1) {
    if ((await tusHead(url, agent))['upload-offset'] === String(size)) return heads;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`final ${url} not complete within 300 s`);
}
