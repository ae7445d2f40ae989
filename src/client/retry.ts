import type { DetailedError } from 'tus-js-client';

/** tus-js-client's default retry rule: not on 4xx, except 409 and 423. */
function defaultShouldRetry(err: DetailedError): boolean {
  const status = err.originalResponse?.getStatus() ?? 0;
  const offline = (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine === false;
  return (status < 400 || status >= 500 || status === 409 || status === 423) && !offline;
}

/**
 * An `onShouldRetry` for tus-js-client that also retries 460 Checksum Mismatch: the server
 * discarded the damaged chunk, so resending it (after the usual HEAD) is safe.
 * For @uppy/tus, whose `onShouldRetry` gets the default rule as 4th argument:
 * `onShouldRetry: (err, attempt, opts, next) => isChecksumMismatch(err) || next(err)`.
 */
export function retryOnChecksumMismatch(err: DetailedError | Error): boolean {
  return isChecksumMismatch(err) || ('originalRequest' in err && defaultShouldRetry(err));
}

export function isChecksumMismatch(err: DetailedError | Error): boolean {
  return 'originalResponse' in err && err.originalResponse?.getStatus() === 460;
}
