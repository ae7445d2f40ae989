import type { DetailedError } from 'tus-js-client';
import { formatBytes } from '../format.js';
import { isWholeFileFailure } from './retry-policy.js';

/** Exit codes of `tessera upload` and `tessera download`, stable for scripts. */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  fileUnreadable: 3,
  unreachable: 4,
  forbidden: 5,
  tooLarge: 6,
  integrity: 7,
  http: 8,
  interrupted: 130,
} as const;

export type FailureKind =
  | 'file-unreadable'
  | 'unreachable'
  | 'forbidden'
  | 'too-large'
  | 'checksum-mismatch'
  | 'sha256-mismatch'
  | 'not-verified'
  | 'http'
  | 'interrupted'
  | 'usage'
  | 'internal';

const EXIT_OF: Record<FailureKind, number> = {
  'file-unreadable': EXIT.fileUnreadable,
  unreachable: EXIT.unreachable,
  forbidden: EXIT.forbidden,
  'too-large': EXIT.tooLarge,
  'checksum-mismatch': EXIT.integrity,
  'sha256-mismatch': EXIT.integrity,
  'not-verified': EXIT.integrity,
  http: EXIT.http,
  interrupted: EXIT.interrupted,
  usage: EXIT.usage,
  internal: EXIT.error,
};

/** Why an upload or a download did not end verified: one line for people, a kind and an exit code for scripts. */
export class CliFailure extends Error {
  override readonly name = 'CliFailure';
  readonly exitCode: number;

  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.exitCode = EXIT_OF[kind];
  }
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * The one line a failure is told in on stderr. An interrupt is expected and resumable: it is
 * said as what happened, not as an error.
 */
export function failureLine(failure: CliFailure): string {
  return failure.kind === 'interrupted' ? `tessera: ${failure.message}\n` : `tessera: error: ${failure.message}\n`;
}

export const retries = (n: number) => `${n} ${n === 1 ? 'retry' : 'retries'}`;

/**
 * The first line of a response body for a one-line message: whole (a server's reason cut
 * mid-sentence misleads), unless it is far longer than any reason a server gives.
 */
export function firstLine(text: string | undefined): string {
  const line = (text ?? '').trim().split('\n')[0]?.trim() ?? '';
  return line.length > 500 ? `${line.slice(0, 500)}…` : line;
}

/** A network-level cause (refused, reset, DNS ...), with its code, when there is one. */
export function networkCause(error: unknown): { code: string; message: string } | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    const code = (current as NodeJS.ErrnoException).code;
    if (code && NETWORK_CODES.has(code)) return { code, message: current.message };
    if (current.message === 'socket hang up') return { code: 'ECONNRESET', message: current.message };
    current = (current as { causingError?: unknown; cause?: unknown }).causingError ?? (current as { cause?: unknown }).cause;
  }
  return undefined;
}

export interface FailureContext {
  readonly endpoint: string;
  readonly size: number;
  readonly retries: number;
  /** The per-chunk checksum sent, if any. */
  readonly checksum: string | null;
}

/** Maps what tus-js-client reported to a failure a person can act on. */
export function classifyUploadError(error: Error | DetailedError, ctx: FailureContext): CliFailure {
  if (error instanceof CliFailure) return error;
  const res = 'originalResponse' in error ? error.originalResponse : null;
  if (res) {
    const status = res.getStatus();
    const body = firstLine(res.getBody());
    const said = body ? `: ${body}` : '';
    if (status === 460 && isWholeFileFailure(error)) {
      return new CliFailure(
        'sha256-mismatch',
        `the server's SHA-256 of the uploaded file does not match this file (460)${said}; the server discarded it, run again to upload afresh${
          ctx.checksum ? '' : ' (with --checksum auto, a chunk damaged on the way is refused and resent instead)'
        }`,
        status,
      );
    }
    if (status === 460) {
      return new CliFailure('checksum-mismatch', `a chunk kept arriving damaged (460 Checksum Mismatch) after ${retries(ctx.retries)}${said}`, status);
    }
    if (status === 413) {
      return new CliFailure('too-large', `the server refused the file as too large (413)${said}; the file is ${formatBytes(ctx.size)}`, status);
    }
    if (status === 401 || status === 403) {
      return new CliFailure('forbidden', `the server refused the upload (${status} ${status === 401 ? 'Unauthorized' : 'Forbidden'})${said}`, status);
    }
    return new CliFailure('http', `the server answered ${status}${said} (${describeRequest(error as DetailedError)})`, status);
  }
  const cause = networkCause(error);
  if (cause?.code === 'ETIMEDOUT') {
    return new CliFailure('unreachable', `no progress or no answer from ${ctx.endpoint} in time: ${cause.message} (gave up after ${retries(ctx.retries)}); run the same command again to resume`);
  }
  if (cause && 'originalRequest' in error && error.originalRequest?.getMethod() === 'PATCH') {
    // The server answered before (the upload exists): the link failed while sending, it is not down.
    return new CliFailure(
      'unreachable',
      `the connection to ${ctx.endpoint} kept failing while sending: ${cause.message} (gave up after ${retries(ctx.retries)}); run the same command again to resume`,
    );
  }
  if (cause) {
    return new CliFailure('unreachable', `cannot reach ${ctx.endpoint}: ${cause.message} (gave up after ${retries(ctx.retries)})`);
  }
  return new CliFailure('internal', error.message.split('\n')[0] ?? 'upload failed');
}

function describeRequest(error: DetailedError): string {
  const req = error.originalRequest;
  return req ? `${req.getMethod()} ${req.getURL()}` : 'request';
}

/** A local file that cannot be uploaded, in words. */
export function fileFailure(file: string, error: unknown): CliFailure {
  const code = (error as NodeJS.ErrnoException).code;
  const why =
    code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : String((error as Error).message);
  return new CliFailure('file-unreadable', `cannot read ${file}: ${why}`);
}
