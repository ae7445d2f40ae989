import { createHash } from 'node:crypto';
import http from 'node:http';
import { goal, speedRatio, type BenchCase, type CaseOutcome } from '../lib/case.js';
import { makeDataFile } from '../lib/data.js';
import { startNginxStatic } from '../lib/nginx-static.js';
import { startServer } from '../lib/proc.js';
import { MiB, repeat, rotation, timed } from '../lib/stats.js';
import { tusCreate, tusPatchFile } from '../lib/tus-raw.js';
import { expectStoredSize, uploadIdOf } from '../lib/uploads.js';

const GOAL = 'GET of a finished upload ≥ 0.8× nginx serving the same file statically';

/**
 * Reads a whole GET answer: hashing it (to prove the bytes) or only counting them (timed runs:
 * hashing would make the client the bottleneck for both servers). Returns the digest or length.
 */
function download(url: string, agent: http.Agent, how: 'hash' | 'count'): Promise<Buffer | number> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`GET ${url}: ${res.statusCode}`));
        return;
      }
      const hash = createHash('sha256');
      let bytes = 0;
      res.on('data', (chunk: Buffer) => {
        if (how === 'hash') hash.update(chunk);
        bytes += chunk.length;
      });
      res.on('end', () => resolve(how === 'hash' ? hash.digest() : bytes));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/**
 * Case 10: downloads. The same client fetches the same file from Tessera (GET of the finished
 * upload: lifecycle and owner checks, validators, the file streamed through Node) and from nginx
 * serving Tessera's data directory (sendfile), one after the other in every repetition.
 */
export const downloadCase: BenchCase = {
  id: 'download',
  title: '10. Download: GET of a finished upload from Tessera vs nginx serving the same file',
  goals: [GOAL],
  async run(ctx): Promise<CaseOutcome> {
    const size = (ctx.quick ? 64 : 1024) * MiB;
    const data = await makeDataFile(ctx.workDir, 'data.bin', size, 64 * MiB);
    const tessera = await startServer('tessera', ctx.workDir);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const url = await tusCreate(tessera.endpoint, { length: size, metadata: { sha256: data.sha256.toString('hex') }, agent });
      await tusPatchFile(url, { file: data.path, start: 0, length: size }, agent);
      expectStoredSize(tessera.dataDir, url, size);
      const nginx = await startNginxStatic(tessera.dataDir);
      try {
        const targets = { tessera: url, nginx: `${nginx.baseUrl}/${uploadIdOf(url)}` } as const;
        const samples = { tessera: [] as number[], nginx: [] as number[] };
        const fetchOnce = async (server: keyof typeof targets) => {
          let received: Buffer | number = 0;
          const seconds = await timed(async () => {
            received = await download(targets[server], agent, 'count');
          });
          if (received !== size) throw new Error(`${server} sent ${String(received)} bytes, not ${size}`);
          return seconds;
        };
        // One untimed pass each, hashed: the bytes are the upload's; page cache, JIT and connections warm.
        for (const server of ['tessera', 'nginx'] as const) {
          const digest = await download(targets[server], agent, 'hash');
          if (!(digest instanceof Buffer) || !digest.equals(data.sha256)) throw new Error(`${server} sent other bytes than the upload's`);
        }
        const repetitions = await repeat(ctx.quick ? 3 : 5, ctx.budgetMs, async (rep) => {
          for (const server of rotation(['tessera', 'nginx'] as const, rep)) samples[server].push(await fetchOnce(server));
          ctx.log(`repetition ${rep + 1} done`);
        });
        const ratio = speedRatio(samples.tessera, samples.nginx);
        return {
          status: 'ok',
          repetitions,
          params: { size: `${size / MiB} MiB`, client: 'node:http GET, one keep-alive connection, bytes counted' },
          rows: [
            { label: 'nginx, static file (sendfile)', seconds: samples.nginx, bytes: size },
            { label: 'Tessera GET', seconds: samples.tessera, bytes: size, ratios: [{ value: ratio, vs: 'nginx', kind: 'speed' }] },
          ],
          goals: [goal(GOAL, ratio, '>=', 0.8)],
          notes: ['Both serve the file Tessera stored for the upload (nginx from its data directory); a first untimed answer from each is hashed and compared with the upload\'s SHA-256, timed answers are counted.'],
        };
      } finally {
        await nginx.stop();
      }
    } finally {
      agent.destroy();
      await tessera.stop();
    }
  },
};
