/**
 * `npm run bench [-- --quick] [-- --only <case>]`: every case side by side in one run on
 * 127.0.0.1, written to bench/results/latest.{md,json}. Bounded: 10 minutes (quick: 1 minute).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from './lib/args.js';
import type { BenchCase, CaseResult } from './lib/case.js';
import { cleanupAll, onCleanup } from './lib/cleanup.js';
import { cpuTicks, stealShare } from './lib/host-steal.js';
import { describeMachine, writeReport, type Report } from './lib/report.js';
import { assemblyCase } from './cases/assembly.js';
import { clusterCase } from './cases/cluster.js';
import { concurrencyCase } from './cases/concurrency.js';
import { downloadCase } from './cases/download.js';
import { finalsCase } from './cases/finals.js';
import { locksCase } from './cases/locks.js';
import { parallelCase } from './cases/parallel.js';
import { s3Case } from './cases/s3.js';
import { slowLinkCase } from './cases/slow-link.js';
import { throughputCase } from './cases/throughput.js';
import { nginxAnchorCase } from './cases/nginx-anchor.js';

const CASES: readonly { readonly bench: BenchCase; readonly share: number }[] = [
  // share: the part of the run's time budget a case may use before it stops repeating.
  { bench: throughputCase, share: 0.18 },
  { bench: parallelCase, share: 0.06 },
  { bench: assemblyCase, share: 0.12 },
  { bench: slowLinkCase, share: 0.13 },
  { bench: concurrencyCase, share: 0.1 },
  { bench: locksCase, share: 0.04 },
  { bench: clusterCase, share: 0.08 },
  { bench: s3Case, share: 0.12 },
  { bench: finalsCase, share: 0.04 },
  { bench: downloadCase, share: 0.05 },
  { bench: nginxAnchorCase, share: 0.08 },
];

/** Cases the issues ask for that the harness does not measure yet (shown in the report's notes). */
const PENDING: readonly string[] = [];

const log = (message: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2), CASES.map((c) => c.bench.id));
  const limitMs = args.quick ? 60_000 : 600_000;
  const started = Date.now();
  const machine = describeMachine();
  const selected = CASES.filter((c) => args.only.length === 0 || args.only.includes(c.bench.id));
  const results: CaseResult[] = [];
  const report = (): Report => ({
    mode: args.quick ? 'quick' : 'full',
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    date: new Date(started).toISOString(),
    elapsedSeconds: (Date.now() - started) / 1000,
    machine: { ...machine, loadAverageEnd: os.loadavg().map((l) => Number(l.toFixed(2))) },
    cases: results,
    pending: PENDING,
  });

  // The hard bound: whatever is running when the limit passes is cut, the rest reported.
  const watchdog = setTimeout(() => {
    log(`time limit of ${limitMs / 1000} s reached: stopping`);
    const done = new Set(results.map((r) => r.id));
    for (const c of selected.filter((s) => !done.has(s.bench.id))) results.push(skipped(c.bench, 'cut by the time limit'));
    writeReport(report());
    void cleanupAll().finally(() => process.exit(1));
  }, limitMs);
  watchdog.unref();

  const root = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'tessera-bench-'));
  onCleanup('bench temp dir', () => fs.promises.rm(root, { recursive: true, force: true }), () =>
    fs.rmSync(root, { recursive: true, force: true }),
  );
  log(`${args.quick ? 'quick' : 'full'} run of ${selected.map((c) => c.bench.id).join(', ')}; temp dir ${root}`);

  for (const { bench, share } of selected) {
    const workDir = path.join(root, bench.id);
    await fs.promises.mkdir(workDir);
    const caseStart = Date.now();
    const ticksAtStart = cpuTicks();
    log(`case ${bench.id}: start`);
    try {
      const outcome = await bench.run({
        quick: args.quick,
        workDir,
        budgetMs: share * limitMs,
        log: (m) => log(`case ${bench.id}: ${m}`),
      });
      const hostSteal = stealShare(ticksAtStart, cpuTicks());
      results.push({ id: bench.id, title: bench.title, elapsedSeconds: (Date.now() - caseStart) / 1000, hostSteal, ...outcome });
    } catch (error) {
      log(`case ${bench.id} failed: ${(error as Error).stack ?? String(error)}`);
      results.push({ ...skipped(bench, (error as Error).message.split('\n')[0] ?? 'error'), status: 'failed', elapsedSeconds: (Date.now() - caseStart) / 1000 });
    } finally {
      await fs.promises.rm(workDir, { recursive: true, force: true });
    }
    log(`case ${bench.id}: ${results.at(-1)?.status} in ${((Date.now() - caseStart) / 1000).toFixed(1)} s`);
  }
  clearTimeout(watchdog);
  const files = writeReport(report());
  for (const r of results) for (const g of r.goals) log(`${g.met === null ? '—' : g.met ? 'met   ' : 'MISSED'} ${g.text}: ${g.measured}`);
  log(`wrote ${files.md} and ${files.json} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return results.some((r) => r.status === 'failed') ? 1 : 0;
}

function skipped(bench: BenchCase, reason: string): CaseResult {
  return {
    id: bench.id,
    title: bench.title,
    status: 'skipped',
    reason,
    repetitions: 0,
    elapsedSeconds: 0,
    params: {},
    rows: [],
    goals: bench.goals.map((text) => ({ text, measured: 'not measured', met: null })),
  };
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    void cleanupAll().finally(() => process.exit(130));
  });
}

let code = 1;
try {
  code = await main();
} catch (error) {
  log((error as Error).message);
} finally {
  await cleanupAll();
}
process.exit(code);
