import { failureLine, type CliFailure } from '../failure.js';
import type { TransferSnapshot } from '../transfer-tracker.js';
import type { Notice, Output, Reporter, UploadPlan, UploadResult } from './reporter.js';

/**
 * One JSON object per line on stdout (`event`: start, progress, retry, resume, sha256,
 * parts, interrupt, done, error) for scripts; the one-line error still goes to stderr.
 */
export class JsonReporter implements Reporter {
  readonly intervalMs = 500;

  constructor(private readonly out: Output) {}

  start(plan: UploadPlan): void {
    this.emit({ event: 'start', ...plan });
  }

  notice(notice: Notice): void {
    this.emit({ event: notice.event, message: notice.message, ...notice.fields });
  }

  progress(s: TransferSnapshot): void {
    this.emit({
      event: 'progress',
      bytesUploaded: s.uploaded,
      bytesTotal: s.size,
      bytesSentThisRun: s.sentThisRun,
      rate: Math.round(s.rate),
      etaSeconds: s.etaSeconds === undefined ? null : Math.round(s.etaSeconds),
      parts: s.parts.map((p) => ({ index: p.index, start: p.start, end: p.end, uploaded: p.uploaded })),
    });
  }

  done(result: UploadResult): void {
    this.emit({ event: 'done', ...result });
  }

  fail(failure: CliFailure, snapshot?: TransferSnapshot): void {
    this.emit({
      event: 'error',
      kind: failure.kind,
      exitCode: failure.exitCode,
      status: failure.status ?? null,
      message: failure.message,
      bytesUploaded: snapshot?.uploaded ?? null,
    });
    this.out.stderr.write(failureLine(failure));
  }

  private emit(event: Record<string, unknown>): void {
    this.out.stdout.write(`${JSON.stringify(event)}\n`);
  }
}
