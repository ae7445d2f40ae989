/** S3 error names for "not there", as the SDK reports them (name or Code). */
const NOT_FOUND = new Set(['NotFound', 'NoSuchKey', 'NoSuchUpload']);

export function isS3NotFound(error: unknown, codes: ReadonlySet<string> = NOT_FOUND): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name, Code } = error as { name?: unknown; Code?: unknown };
  return (typeof name === 'string' && codes.has(name)) || (typeof Code === 'string' && codes.has(Code));
}

/** A multipart upload that was completed or aborted (S3, and some others' NoSuchKey). */
export const isMissingUpload = (error: unknown) => isS3NotFound(error, new Set(['NoSuchUpload', 'NoSuchKey']));

/**
 * An S3 error in one line: its code, S3's message when there is one (Ceph RGW sends none: the
 * SDK then says "UnknownError"), and the HTTP status.
 */
export function describeS3Error(error: unknown): string {
  const { name, message, $metadata } = (error ?? {}) as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const said = message && message !== 'UnknownError' && message !== name ? `: ${message}` : '';
  const status = $metadata?.httpStatusCode ? ` (${$metadata.httpStatusCode})` : '';
  return `${name ?? 'Error'}${said}${status}`;
}

/** Asked for something S3 cannot do without the bytes (see S3StoreAdapter.truncate). */
export class S3TruncateError extends Error {
  override readonly name = 'S3TruncateError';
}

/** Connection-level failures: S3 refused, reset, timed out or could not be found. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * S3 could not be reached, or kept failing on its side after the SDK's retries (5xx, throttling):
 * the request cannot be served now and may be retried, unlike a refusal of the request itself.
 */
export function isS3Unreachable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { code, name, $metadata, $fault } = error as { code?: unknown; name?: unknown; $metadata?: { httpStatusCode?: number }; $fault?: unknown };
  if (typeof code === 'string' && NETWORK_CODES.has(code)) return true;
  if (name === 'TimeoutError' || name === 'AbortError' || name === 'RequestTimeout') return true;
  return $fault === 'server' || ($metadata?.httpStatusCode ?? 0) >= 500;
}

/**
 * S3 stored a part other than the bytes Tessera sent (its ETag is not their MD5): damaged on the
 * way. The part was voided; the write fails and may be retried (answered 503).
 */
export class S3DamagedPartError extends Error {
  override readonly name = 'S3DamagedPartError';
}

/**
 * Worth sending a part again from its temp file: S3 failed on its side or could not be reached,
 * or refused the bytes as damaged (BadDigest: Content-MD5 did not match what arrived). The SDK
 * never retries a streamed body itself.
 */
export function isWorthResending(error: unknown): boolean {
  if (isS3Unreachable(error)) return true;
  const { name, Code } = (error ?? {}) as { name?: unknown; Code?: unknown };
  return [name, Code].some((code) => code === 'BadDigest' || code === 'IncompleteBody' || code === 'RequestTimeout');
}

/** S3 refused what a request named (its parts, their sizes): the client's doing, not S3 failing. */
export function isS3Refusal(error: unknown): boolean {
  const name = (error as { name?: string; Code?: string } | undefined)?.name ?? (error as { Code?: string } | undefined)?.Code;
  return name === 'InvalidPart' || name === 'InvalidPartOrder' || name === 'EntityTooSmall' || name === 'EntityTooLarge';
}
