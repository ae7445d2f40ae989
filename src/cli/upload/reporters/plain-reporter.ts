import { formatBytes, formatEta, formatRate } from '../../format.js';
import { failureLine, type CliFailure } from '../failure.js';
import type { TransferSnapshot } from '../transfer-tracker.js';
import { percent, type Notice, type Output, type Reporter, type UploadPlan, type UploadResult } from './reporter.js';

/** Progress as plain periodic lines on stderr (logs, CI, pipes); the upload URL alone on stdout. */
export class PlainReporter implements Reporter {
  readonly intervalMs = 2000;
  /** The 100% line was printed: the last tick and the final report would repeat it. */
  private printedEnd = false;

  constructor(private readonly out: Output) {}

  start(plan: UploadPlan): void {
    this.line(`uploading ${plan.file} (${formatBytes(plan.size)}) to ${plan.endpoint}: ${describePlan(plan)}`);
  }

  notice(notice: Notice): void {
    this.line(notice.message);
  }

  progress(s: TransferSnapshot): void {
    if (s.uploaded >= s.size && this.printedEnd) return;
    this.printedEnd = s.uploaded >= s.size;
    const parts = s.parts.length > 1 ? `  parts ${s.parts.map((p) => `${percent(p.uploaded, p.end - p.start)}%`).join(' ')}` : '';
    this.line(
      `${formatBytes(s.uploaded)} / ${formatBytes(s.size)} (${percent(s.uploaded, s.size)}%)  ${formatRate(s.rate)}  ETA ${formatEta(s.etaSeconds)}${parts}`,
    );
  }

  done(result: UploadResult): void {
    this.line(summary(result));
    this.out.stdout.write(`${result.url}\n`);
  }

  fail(failure: CliFailure): void {
    this.out.stderr.write(failureLine(failure));
  }

  private line(text: string): void {
    this.out.stderr.write(`tessera: ${text}\n`);
  }
}

export function describePlan(plan: UploadPlan): string {
  const parts = plan.parts > 1 ? `${plan.parts} parallel parts` : 'one upload';
  const chunks = Number.isFinite(plan.chunkSize) ? `${formatBytes(plan.chunkSize)} chunks` : 'one request per part';
  const checksum = plan.checksum ? `${plan.checksum} chunk checksums` : 'no chunk checksums';
  return `${parts}, ${chunks}, ${checksum}`;
}

export function summary(result: UploadResult): string {
  const resumed = result.resumed ? `, resumed: ${formatBytes(result.sentThisRun)} sent this run` : '';
  return `verified ${formatBytes(result.size)} in ${(result.durationMs / 1000).toFixed(1)}s, sha256 ${result.sha256}${resumed}`;
}
