import type { CliFailure } from '../failure.js';
import type { TransferSnapshot } from '../transfer-tracker.js';

export interface UploadPlan {
  readonly file: string;
  readonly size: number;
  readonly endpoint: string;
  readonly parts: number;
  readonly chunkSize: number;
  readonly checksum: string | null;
  /** The stored upload being resumed, if any. */
  readonly resumedFrom: { readonly urls: readonly string[] } | null;
}

export interface UploadResult {
  readonly url: string;
  readonly size: number;
  readonly sha256: string;
  readonly sentThisRun: number;
  readonly resumed: boolean;
  readonly durationMs: number;
}

/** Something worth one line: a retry, a resumed upload, the local digest ... */
export interface Notice {
  readonly event: 'resume' | 'retry' | 'sha256' | 'parts' | 'interrupt' | 'chunk-size' | 'checksum';
  readonly message: string;
  readonly fields?: Readonly<Record<string, unknown>>;
}

/** How an upload is shown: bars on a terminal, plain lines in logs, JSON lines for scripts. */
export interface Reporter {
  /** How often `progress` wants a snapshot. */
  readonly intervalMs: number;
  start(plan: UploadPlan): void;
  notice(notice: Notice): void;
  progress(snapshot: TransferSnapshot): void;
  done(result: UploadResult): void;
  fail(failure: CliFailure, snapshot?: TransferSnapshot): void;
}

export interface Output {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export const percent = (done: number, total: number) => (total > 0 ? Math.floor((done / total) * 100) : 100);
