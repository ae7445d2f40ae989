import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { CaseResult, Row } from './case.js';
import { repoRoot } from './proc.js';
import { mbps, median } from './stats.js';

export interface Machine {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly node: string;
  readonly os: string;
  readonly gitCommit: string;
  readonly loadAverageStart: readonly number[];
  loadAverageEnd?: readonly number[];
}

export function describeMachine(): Machine {
  let gitCommit = 'unknown';
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    gitCommit = dirty ? `${head} (src/ has uncommitted changes)` : head;
  } catch {
    // Not a git checkout: keep "unknown".
  }
  return {
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    gitCommit,
    loadAverageStart: os.loadavg().map((l) => Number(l.toFixed(2))),
  };
}

export interface Report {
  readonly mode: 'full' | 'quick';
  readonly command: string;
  readonly date: string;
  readonly elapsedSeconds: number;
  readonly machine: Machine;
  readonly cases: readonly CaseResult[];
  readonly pending: readonly string[];
}

export function writeReport(report: Report, dir = path.join(repoRoot, 'bench/results')): { md: string; json: string } {
  fs.mkdirSync(dir, { recursive: true });
  const md = path.join(dir, 'latest.md');
  const json = path.join(dir, 'latest.json');
  fs.writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(md, renderMarkdown(report));
  return { md, json };
}

/** Markdown table cells cannot hold a raw pipe. */
const cell = (text: string) => text.replace(/\|/g, '\\|');

const verdict = (met: boolean | null) => (met === null ? '—' : met ? 'met' : '**missed**');

export function renderMarkdown(r: Report): string {
  const m = r.machine;
  const out: string[] = [
    '# Tessera benchmarks',
    '',
    `${r.mode === 'quick' ? '**Quick run** (reduced sizes and repetitions: indicative only)' : 'Full run'}, ${r.date}, ${r.elapsedSeconds.toFixed(0)} s. Reproduce: \`${r.command}\`.`,
    '',
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB RAM, Node ${m.node}, ${m.os}; commit ${m.gitCommit}. ` +
      `Load average at start ${m.loadAverageStart.join(' / ')}, at end ${(m.loadAverageEnd ?? []).join(' / ')} (1/5/15 min).`,
    '',
    '## Goals',
    '',
    '| Case | Goal | Measured | Verdict |',
    '| --- | --- | --- | --- |',
  ];
  for (const c of r.cases) {
    for (const g of c.goals) out.push(`| ${[c.title, g.text, g.measured, verdict(g.met)].map(cell).join(' | ')} |`);
  }
  for (const c of r.cases) {
    out.push('', `## ${c.title}`, '');
    const params = Object.entries(c.params).map(([k, v]) => `${k} ${v}`);
    out.push(
      `Status: ${c.status}${c.reason ? ` (${c.reason})` : ''}. ${c.repetitions} interleaved repetition(s), ${c.elapsedSeconds.toFixed(0)} s` +
        (c.hostSteal === undefined ? '.' : `; the host took ${(c.hostSteal * 100).toFixed(1)}% of the CPU time (steal).`) +
        (params.length ? ` ${params.join(', ')}.` : ''),
    );
    if (c.rows.length > 0) out.push('', ...table(c.rows));
    if (c.notes?.length) out.push('', ...c.notes.map((note) => `- ${note}`));
  }
  out.push(
    '',
    '## Notes',
    '',
    '- Every server is its own Node process on 127.0.0.1 (started with `node --import tsx`); the clients run in the harness process.',
    '- Times are medians of interleaved repetitions (the order of variants rotates each repetition); ratios are medians of per-repetition ratios, so each compares runs made moments apart.',
    '- MB/s is decimal (10^6 bytes per second); sizes are binary (MiB, GiB). Uploads land in the page cache (no fsync), as every server here writes.',
    ...r.pending.map((p) => `- ${p}`),
    '',
  );
  return out.join('\n');
}

const rate = (v: number) => v.toFixed(v < 10 ? 2 : 0);

function table(rows: readonly Row[]): string[] {
  const extraKeys = [...new Set(rows.flatMap((row) => Object.keys(row.extra ?? {})))];
  const head = ['Variant', 'Median s', 'MB/s', 'Ratio', ...extraKeys, 'Samples (s)'];
  const lines = [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`];
  for (const row of rows) {
    if (row.unavailable) {
      lines.push(`| ${[row.label, row.unavailable, '', '', ...extraKeys.map(() => ''), ''].map(cell).join(' | ')} |`);
      continue;
    }
    const t = median(row.seconds);
    const ratio = (row.ratios ?? [])
      .map((r) => `${r.value.toFixed(2)}× the ${r.kind} of ${r.vs}`)
      .join('; ');
    lines.push(
      `| ${[
        row.label,
        t.toFixed(3),
        row.bytes ? rate(mbps(row.bytes, t)) : '',
        ratio,
        ...extraKeys.map((k) => row.extra?.[k] ?? ''),
        row.seconds.map((s) => s.toFixed(3)).join(', '),
      ]
        .map(cell)
        .join(' | ')} |`,
    );
  }
  return lines;
}
