import type { DetailedError, UploadOptions } from 'tus-js-client';
import { isChecksumMismatch, retryOnChecksumMismatch } from '../../client/index.js';

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;

/** Exponential backoff: 0.5 s, 1 s, 2 s, 4 s, 8 s, then 10 s for every further retry. */
export function backoffDelays(retries: number): number[] {
  return Array.from({ length: retries }, (_, i) => Math.min(FIRST_DELAY_MS * 2 ** i, MAX_DELAY_MS));
}

/** The whole-file SHA-256 failed on the server: resending a chunk cannot fix that. */
export function isWholeFileFailure(err: Error | DetailedError): boolean {
  return 'originalResponse' in err && err.originalResponse?.getHeader('Tessera-Upload-Status') === 'failed';
}

function isFinalCreation(err: DetailedError): boolean {
  const req = err.originalRequest;
  return req?.getMethod() === 'POST' && (req.getHeader('Upload-Concat') ?? '').startsWith('final');
}

export interface RetryNotice {
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: DetailedError;
}

/**
 * tus-js-client's `onShouldRetry`: its default rule plus 460 on a chunk (the server
 * discarded the damaged chunk, so it is resent after a HEAD), never a whole-file SHA-256
 * failure. A parallel upload's parent sees a part's error only after that part spent its
 * own retries; retrying there would start a second uploader for the parts still running,
 * so the parent retries only its own request, the final POST.
 */
export function retryPolicy(onRetry: (notice: RetryNotice) => void): NonNullable<UploadOptions['onShouldRetry']> {
  return (err, attempt, options) => {
    const isParent = (options.parallelUploads ?? 1) > 1;
    const retry =
      (!isParent || isFinalCreation(err)) &&
      !(isChecksumMismatch(err) && isWholeFileFailure(err)) &&
      retryOnChecksumMismatch(err);
    if (retry) onRetry({ attempt: attempt + 1, delayMs: options.retryDelays?.[attempt] ?? 0, error: err });
    return retry;
  };
}
