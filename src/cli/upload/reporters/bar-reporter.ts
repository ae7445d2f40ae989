import cliProgress from 'cli-progress';
import { formatBytes, formatEta, formatRate } from '../../format.js';
import { failureLine, type CliFailure } from '../failure.js';
import type { TransferSnapshot } from '../transfer-tracker.js';
import { describePlan, summary } from './plain-reporter.js';
import type { Notice, Output, Reporter, UploadPlan, UploadResult } from './reporter.js';

/** Live bars on a terminal (stderr): the whole file with rate and ETA, and one bar per part. */
export class BarReporter implements Reporter {
  readonly intervalMs = 200;
  private bars: cliProgress.MultiBar | undefined;
  private total: cliProgress.SingleBar | undefined;
  private parts: cliProgress.SingleBar[] = [];

  constructor(private readonly out: Output) {}

  start(plan: UploadPlan): void {
    this.out.stderr.write(`tessera: uploading ${plan.file} (${formatBytes(plan.size)}) to ${plan.endpoint}: ${describePlan(plan)}\n`);
    this.bars = new cliProgress.MultiBar(
      {
        stream: this.out.stderr,
        format: '{label} {bar} {percentage}% | {done} / {size} | {rate} | ETA {eta_text}',
        hideCursor: true,
        clearOnComplete: false,
        autopadding: true,
        fps: 10,
        // The rest of the total's line takes up to 66 columns: the bar gets what is left, so the
        // line is never cut at the terminal's edge (cli-progress truncates, leaving "… | ").
        barsize: barSizeFor(this.out.stderr, 66),
      },
      cliProgress.Presets.shades_classic,
    );
    this.total = this.bars.create(Math.max(plan.size, 1), 0, this.payload('total  ', 0, plan.size, 0, undefined));
  }

  notice(notice: Notice): void {
    if (this.bars) this.bars.log(`tessera: ${notice.message}\n`);
    else this.out.stderr.write(`tessera: ${notice.message}\n`);
  }

  progress(s: TransferSnapshot): void {
    if (!this.bars || !this.total) return;
    const total = this.payload('total  ', s.uploaded, s.size, s.rate, s.etaSeconds);
    // All bytes are out: the server is verifying (and assembling the parts).
    if (s.uploaded >= s.size) total.eta_text = 'server verifying';
    this.total.update(s.uploaded, total);
    if (s.parts.length < 2) return;
    s.parts.forEach((part, i) => {
      const size = part.end - part.start;
      const label = `part ${String(i + 1).padEnd(2)}`;
      const bar = (this.parts[i] ??= (this.bars as cliProgress.MultiBar).create(Math.max(size, 1), 0, this.payload(label, 0, size, 0, undefined), {
        format: '{label} {bar} {percentage}% | {done} / {size}',
      }));
      bar.update(part.uploaded, this.payload(label, part.uploaded, size, 0, undefined));
    });
  }

  done(result: UploadResult): void {
    this.stop();
    this.out.stderr.write(`tessera: ${summary(result)}\n`);
    this.out.stdout.write(`${result.url}\n`);
  }

  fail(failure: CliFailure): void {
    this.stop();
    this.out.stderr.write(failureLine(failure));
  }

  private stop(): void {
    this.bars?.stop();
    this.bars = undefined;
  }

  private payload(label: string, done: number, size: number, rate: number, eta: number | undefined) {
    return { label, done: formatBytes(done), size: formatBytes(size), rate: formatRate(rate), eta_text: formatEta(eta) };
  }
}

/** A bar as wide as the terminal leaves beside `rest` columns of text: 10 to 40 characters. */
export function barSizeFor(stream: NodeJS.WritableStream, rest: number): number {
  const columns = (stream as NodeJS.WritableStream & { columns?: number }).columns ?? 80;
  return Math.max(10, Math.min(40, columns - rest - 1));
}
