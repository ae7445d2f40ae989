import { ERRORS } from '@tus/utils';
import { CHECKSUM_ALGORITHMS } from './tus/extensions/checksum/algorithms.js';

/**
 * One error type with a stable code, a tus status and a short plain message.
 * It keeps @tus/server's `{status_code, body}` shape so the library's own error path
 * (and `onResponseError`) answers it without translation.
 */
export class TusError extends Error {
  override readonly name = 'TusError';
  readonly body: string;

  constructor(
    readonly code: string,
    readonly status_code: number,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.body = `${message}\n`;
  }

  /** The same error with more response headers. */
  withHeaders(extra: Readonly<Record<string, string>>): TusError {
    return new TusError(this.code, this.status_code, this.message, { ...this.headers, ...extra });
  }
}

const advertisedAlgorithms = { 'Tus-Checksum-Algorithm': CHECKSUM_ALGORITHMS.join(',') };

/**
 * The catalogue: every error Tessera answers with, by stable code. Nothing else constructs a
 * TusError; @tus/utils' own ERRORS (404, 409, 413, ...) are answered as @tus/server sends them.
 */
export const errors = {
  notFound: () => new TusError('ERR_NOT_FOUND', 404, 'Not found'),
  badRequest: () => new TusError('ERR_BAD_REQUEST', 400, 'Bad request'),
  /** Anything unexpected: details go to the log, never to the client. */
  internal: () => new TusError('ERR_INTERNAL', 500, 'Internal server error'),
  methodNotAllowed: (allow: readonly string[]) =>
    new TusError('ERR_METHOD_NOT_ALLOWED', 405, 'Method not allowed on a tus endpoint', { Allow: allow.join(', ') }),
  unauthorized: () =>
    new TusError('ERR_UNAUTHORIZED', 401, 'Authentication required: send a valid bearer token', { 'WWW-Authenticate': 'Bearer' }),
  tooManyRequests: (message: string, retryAfterS: number) =>
    new TusError('ERR_TOO_MANY_REQUESTS', 429, message, { 'Retry-After': String(Math.max(1, retryAfterS)) }),
  metadataTooLarge: (maxBytes: number) => new TusError('ERR_METADATA_TOO_LARGE', 400, `Upload-Metadata is larger than ${maxBytes} bytes`),

  // Downloads (GET): conditional requests and byte ranges.
  preconditionFailed: () => new TusError('ERR_PRECONDITION_FAILED', 412, 'Precondition failed: the file does not match If-Match / If-Unmodified-Since'),
  rangeNotSatisfiable: (size: number) =>
    new TusError('ERR_RANGE_NOT_SATISFIABLE', 416, `Range not satisfiable: the file has ${size} bytes`, { 'Content-Range': `bytes */${size}` }),

  // Per-request checksums (checksum extension); each one discards the request's bytes.
  /** The spec's own status and reason phrase for a verified-but-wrong body. */
  checksumMismatch: () => new TusError('ERR_CHECKSUM_MISMATCH', 460, 'Checksum Mismatch'),
  unsupportedChecksumAlgorithm: (name: string) =>
    new TusError(
      'ERR_UNSUPPORTED_CHECKSUM_ALGORITHM',
      400,
      `Unsupported checksum algorithm "${name.slice(0, 32)}"; supported: ${CHECKSUM_ALGORITHMS.join(', ')}`,
      advertisedAlgorithms,
    ),
  malformedChecksum: (why: string) => new TusError('ERR_INVALID_CHECKSUM', 400, `Malformed Upload-Checksum: ${why}`, advertisedAlgorithms),
  checksumHeaderAndTrailer: () =>
    new TusError('ERR_INVALID_CHECKSUM', 400, 'Upload-Checksum may be sent as a header or as a trailer, not both'),
  checksumTrailerNeedsChunked: () =>
    new TusError('ERR_INVALID_CHECKSUM', 400, 'An Upload-Checksum trailer needs a chunked body (no Content-Length)'),
  checksumTrailerUnavailable: () => new TusError('ERR_INVALID_CHECKSUM', 400, 'HTTP trailers cannot be read on this runtime'),
  checksumTrailerMissing: () =>
    new TusError('ERR_CHECKSUM_TRAILER_MISSING', 400, 'The announced Upload-Checksum trailer was not sent; chunk discarded'),
  /**
   * The body was cut short (client gone, or the lock holder was asked to release): the bytes
   * cannot be verified. 423 so a client that is still there retries after a HEAD.
   */
  checksumInterrupted: () =>
    new TusError('ERR_CHECKSUM_INTERRUPTED', 423, 'The request body ended before its checksum could be verified; chunk discarded', {
      'Retry-After': '1',
    }),

  // Whole-file integrity and the lifecycle.
  invalidSha256: () =>
    new TusError(
      'ERR_INVALID_SHA256',
      400,
      'Upload-Metadata sha256 must be the SHA-256 of the whole file, as 64 hex digits or base64 of 32 bytes',
    ),
  sha256OnPartial: () =>
    new TusError(
      'ERR_SHA256_ON_PARTIAL',
      400,
      'A partial upload is not a file and is never verified alone: declare sha256 on the final upload',
    ),
  /** The 460 a client gets when the uploaded file is not what it declared. */
  sha256Mismatch: (expected: string, actual: string) =>
    new TusError(
      'ERR_SHA256_MISMATCH',
      460,
      `Whole-file SHA-256 mismatch: declared ${expected}, received ${actual}; the upload failed and its data was discarded`,
      { 'Tessera-Upload-Status': 'failed', 'Tessera-Sha256': actual },
    ),

  // Concatenation.
  invalidConcat: (message: string) => new TusError('ERR_INVALID_CONCAT', 400, message),
  foreignPartial: (id: string) =>
    new TusError('ERR_FOREIGN_PARTIAL', 403, `Upload ${id} belongs to someone else; a final may only join your own partials`),
  finalPatch: () => new TusError('ERR_FINAL_PATCH', 403, 'A final upload is assembled by the server and cannot be patched'),

  unsupportedVersion: () => new TusError('ERR_UNSUPPORTED_VERSION', 412, 'Unsupported Tus-Resumable version'),
  missingVersion: () => new TusError('ERR_MISSING_VERSION', 412, 'Tus-Resumable header required'),
  badContentType: () =>
    new TusError('ERR_UNSUPPORTED_MEDIA_TYPE', 415, 'Content-Type must be application/offset+octet-stream'),
  missingOffset: () => new TusError('ERR_MISSING_OFFSET', 400, 'Upload-Offset header required'),
  /** A PATCH at another offset than the upload's: the answer says which one to resume from. */
  offsetMismatch: (current: number) => new TusError('ERR_OFFSET_MISMATCH', 409, `Upload-Offset must be ${current}`, { 'Upload-Offset': String(current) }),
  lockTimeout: () =>
    new TusError('ERR_LOCK_TIMEOUT', 423, 'Upload is locked by another request; retry later', { 'Retry-After': '1' }),
  /** An upload whose verification or assembly failed: its outcome is final. */
  uploadFailed: (state: { readonly error?: string; readonly sha256?: string }) =>
    new TusError('ERR_UPLOAD_FAILED', 460, `Upload failed: ${state.error ?? 'verification failed'}`, {
      'Tessera-Upload-Status': 'failed',
      ...(state.sha256 ? { 'Tessera-Sha256': state.sha256 } : {}),
    }),
  storageFull: () => new TusError('ERR_STORAGE_FULL', 507, 'Insufficient storage; retry once space is freed'),
  /** A blocking HTTP hook could not be asked (unreachable, timed out, 5xx after its retries): fail closed. */
  hookUnavailable: (event: string) =>
    new TusError('ERR_HOOK_UNAVAILABLE', 503, `The ${event} hook could not be reached; retry shortly`, { 'Retry-After': '5' }),
  /** The pre-create hook rejected the upload: its own status (tusd's default 400), body and headers. */
  uploadRejected: (status: number, body: string | undefined, headers: Readonly<Record<string, string>>) =>
    new TusError('ERR_UPLOAD_REJECTED', status, (body ?? '').trim() || 'Upload rejected by the server', headers),
  /** The pre-terminate hook refused a DELETE: its own status (400 unless an error status is given), body and headers. */
  terminationRejected: (status: number, body: string | undefined, headers: Readonly<Record<string, string>>) =>
    new TusError('ERR_TERMINATION_REJECTED', status, (body ?? '').trim() || 'Termination rejected by the server', headers),
  /** The pre-finish hook refused a file (it failed: HEAD answers 460 with the reason): its own status (400 unless an error status is given), body and headers. */
  finishRejected: (status: number, body: string | undefined, headers: Readonly<Record<string, string>>) =>
    new TusError('ERR_FINISH_REJECTED', status, (body ?? '').trim() || 'Upload refused by the server', { ...headers, 'Tessera-Upload-Status': 'failed' }),
  /** The post-receive hook stopped the upload (tusd's StopUpload): it was terminated. Its own status (400 unless an error status is given), body and headers. */
  uploadStopped: (status: number, body: string | undefined, headers: Readonly<Record<string, string>>) =>
    new TusError('ERR_UPLOAD_STOPPED', status, (body ?? '').trim() || 'Upload has been stopped by the server', headers),
  /** The pre-create hook named an id that is no upload id. */
  hookBadUploadId: () => new TusError('ERR_HOOK_BAD_UPLOAD_ID', 500, 'The pre-create hook chose an invalid upload id'),
  /** The pre-create hook named the id of an upload that exists (or is being created). */
  hookUploadIdTaken: () => new TusError('ERR_HOOK_UPLOAD_ID_TAKEN', 500, 'The pre-create hook chose the id of an existing upload'),
  /** The pre-create hook answered something unusable (metadata that is no tus metadata). */
  hookBadAnswer: (why: string) => new TusError('ERR_HOOK_BAD_ANSWER', 500, `The pre-create hook gave an unusable answer: ${why}`),
  // Direct-to-S3 uploads (S3_DIRECT).
  /** No direct upload of the caller's by this key and multipart upload id (unknown, someone else's, finished or removed). */
  directUploadUnknown: () => new TusError('ERR_DIRECT_UPLOAD_UNKNOWN', 404, 'No such direct upload in progress'),
  /** A direct upload's request names parts that are not what S3 holds, or breaks S3's part rules. */
  directPartsInvalid: (why: string) => new TusError('ERR_DIRECT_PARTS_INVALID', 400, why),
  /** A direct-upload request that is malformed (its JSON, its part number, its checksum). */
  directBadRequest: (why: string) => new TusError('ERR_DIRECT_BAD_REQUEST', 400, why),
  /** A direct upload's part that would take it past MAX_SIZE. */
  directTooLarge: (why: string) => new TusError('ERR_DIRECT_TOO_LARGE', 413, why),
  /** A PATCH to an upload whose bytes go straight to S3. */
  directUploadPatch: () => new TusError('ERR_DIRECT_UPLOAD_PATCH', 403, 'This upload receives its bytes as parts sent straight to S3, not by PATCH'),
  storageUnavailable: () =>
    new TusError('ERR_STORAGE_UNAVAILABLE', 503, 'Storage is unavailable (S3 unreachable); retry shortly', { 'Retry-After': '2' }),
  redisUnavailable: () =>
    new TusError('ERR_REDIS_UNAVAILABLE', 503, 'Shared state is unavailable (Redis unreachable); retry shortly', {
      'Retry-After': '2',
    }),
} as const;

/** True for anything that already carries a tus status (ours or @tus/utils' ERRORS). */
export function hasTusStatus(error: unknown): error is { status_code: number; body: string } {
  return (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { status_code?: unknown }).status_code === 'number' &&
    typeof (error as { body?: unknown }).body === 'string'
  );
}

/** True for @tus/utils' answers for an upload that is not (or no longer) there: 404 and 410. */
export function isGoneUpload(error: unknown): boolean {
  return error === ERRORS.FILE_NOT_FOUND || error === ERRORS.FILE_NO_LONGER_EXISTS;
}
