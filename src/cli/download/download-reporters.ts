import cliProgress from 'cli-progress';
import { formatBytes, formatEta, formatRate } from '../format.js';
import { failureLine, type CliFailure } from '../upload/failure.js';
import { barSizeFor } from '../upload/reporters/bar-reporter.js';
import type { Output } from '../upload/reporters/reporter.js';
import { percent } from '../upload/reporters/reporter.js';

export interface DownloadPlan {
  readonly url: string;
  readonly file: string;
  readonly size: number;
  /** Bytes an earlier run left, continued from. */
  readonly resumedAt: number;
}

export interface DownloadProgress {
  readonly received: number;
  readonly size: number;
  readonly receivedThisRun: number;
  readonly elapsedMs: number;
}

export interface DownloadResult {
  readonly url: string;
  readonly file: string;
  readonly size: number;
  /** The file's SHA-256 (hex), computed here. */
  readonly sha256: string;
  /** The server reported a SHA-256 and it matched. */
  readonly verified: boolean;
  readonly receivedThisRun: number;
  readonly resumed: boolean;
  readonly durationMs: number;
}

export interface DownloadNotice {
  readonly event: 'resume' | 'retry' | 'restart' | 'sha256' | 'interrupt';
  readonly message: string;
  readonly fields?: Readonly<Record<string, unknown>>;
}

/** How a download is shown: a bar on a terminal, plain lines in logs, JSON lines for scripts. */
export interface DownloadReporter {
  readonly intervalMs: number;
  start(plan: DownloadPlan): void;
  notice(notice: DownloadNotice): void;
  progress(progress: DownloadProgress): void;
  done(result: DownloadResult): void;
  fail(failure: CliFailure): void;
}

const rateOf = (p: DownloadProgress) => (p.elapsedMs > 0 ? (p.receivedThisRun / p.elapsedMs) * 1000 : 0);
const etaOf = (p: DownloadProgress) => {
  const rate = rateOf(p);
  return rate > 0 ? (p.size - p.received) / rate : undefined;
};

const summary = (r: DownloadResult) =>
  `${r.verified ? 'downloaded and verified' : 'downloaded (not verified)'}: ${r.file} (${formatBytes(r.size)}, sha256 ${r.sha256}` +
  `${r.resumed ? `, resumed, ${formatBytes(r.receivedThisRun)} this run` : ''})`;

/** A line every 2 s on stderr; the file's path on stdout at the end. */
export class PlainDownloadReporter implements DownloadReporter {
  readonly intervalMs: number = 2000;
  /** The 100% line was printed: a last tick and the final report would repeat it. */
  private printedEnd = false;
  constructor(private readonly out: Output) {}

  start(plan: DownloadPlan): void {
    this.out.stderr.write(`tessera: downloading ${plan.url} (${formatBytes(plan.size)}) to ${plan.file}\n`);
  }

  notice(notice: DownloadNotice): void {
    this.out.stderr.write(`tessera: ${notice.message}\n`);
  }

  progress(p: DownloadProgress): void {
    if (p.received >= p.size && this.printedEnd) return;
    this.printedEnd = p.received >= p.size;
    this.out.stderr.write(
      `tessera: ${formatBytes(p.received)} / ${formatBytes(p.size)} (${percent(p.received, p.size)}%) ${formatRate(rateOf(p))} ETA ${formatEta(etaOf(p))}\n`,
    );
  }

  done(result: DownloadResult): void {
    this.out.stderr.write(`tessera: ${summary(result)}\n`);
    this.out.stdout.write(`${result.file}\n`);
  }

  fail(failure: CliFailure): void {
    this.out.stderr.write(failureLine(failure));
  }
}

/** A live bar on a terminal (stderr) with rate and ETA. */
export class BarDownloadReporter extends PlainDownloadReporter {
  override readonly intervalMs = 200;
  private bar: cliProgress.SingleBar | undefined;

  constructor(private readonly output: Output) {
    super(output);
  }

  override start(plan: DownloadPlan): void {
    super.start(plan);
    this.bar = new cliProgress.SingleBar(
      {
        stream: this.output.stderr,
        format: '{bar} {percentage}% | {done} / {total_text} | {rate} | ETA {eta_text}',
        hideCursor: true,
        fps: 10,
        barsize: barSizeFor(this.output.stderr, 56),
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(Math.max(plan.size, 1), plan.resumedAt, { done: formatBytes(plan.resumedAt), total_text: formatBytes(plan.size), rate: '--', eta_text: '--' });
  }

  override notice(notice: DownloadNotice): void {
    if (this.bar) this.output.stderr.write('\n');
    super.notice(notice);
  }

  override progress(p: DownloadProgress): void {
    this.bar?.update(p.received, { done: formatBytes(p.received), total_text: formatBytes(p.size), rate: formatRate(rateOf(p)), eta_text: formatEta(etaOf(p)) });
  }

  override done(result: DownloadResult): void {
    this.stop();
    super.done(result);
  }

  override fail(failure: CliFailure): void {
    this.stop();
    super.fail(failure);
  }

  private stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

/** One JSON object per line on stdout (`event`: start, progress, resume, retry, restart, sha256, done, error). */
export class JsonDownloadReporter implements DownloadReporter {
  readonly intervalMs = 500;
  constructor(private readonly out: Output) {}

  start(plan: DownloadPlan): void {
    this.emit({ event: 'start', ...plan });
  }

  notice(notice: DownloadNotice): void {
    this.emit({ event: notice.event, message: notice.message, ...notice.fields });
  }

  progress(p: DownloadProgress): void {
    this.emit({
      event: 'progress',
      bytesReceived: p.received,
      bytesTotal: p.size,
      bytesReceivedThisRun: p.receivedThisRun,
      rate: Math.round(rateOf(p)),
      etaSeconds: etaOf(p) === undefined ? null : Math.round(etaOf(p) as number),
    });
  }

  done(result: DownloadResult): void {
    this.emit({ event: 'done', ...result });
  }

  fail(failure: CliFailure): void {
    this.emit({ event: 'error', kind: failure.kind, exitCode: failure.exitCode, status: failure.status ?? null, message: failure.message });
    this.out.stderr.write(failureLine(failure));
  }

  private emit(event: Record<string, unknown>): void {
    this.out.stdout.write(`${JSON.stringify(event)}\n`);
  }
}
