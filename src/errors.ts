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

export const errors = {
  notFound: () => new TusError('ERR_NOT_FOUND', 404, 'Not found'),
  unsupportedVersion: () => new TusError('ERR_UNSUPPORTED_VERSION', 412, 'Unsupported Tus-Resumable version'),
  missingVersion: () => new TusError('ERR_MISSING_VERSION', 412, 'Tus-Resumable header required'),
  badContentType: () =>
    new TusError('ERR_UNSUPPORTED_MEDIA_TYPE', 415, 'Content-Type must be application/offset+octet-stream'),
  missingOffset: () => new TusError('ERR_MISSING_OFFSET', 400, 'Upload-Offset header required'),
  lockTimeout: () =>
    new TusError('ERR_LOCK_TIMEOUT', 423, 'Upload is locked by another request; retry later', { 'Retry-After': '1' }),
  /** An upload whose verification or assembly failed: its outcome is final. */
  uploadFailed: (state: { readonly error?: string; readonly sha256?: string }) =>
    new TusError('ERR_UPLOAD_FAILED', 460, `Upload failed: ${state.error ?? 'verification failed'}`, {
      'Tessera-Upload-Status': 'failed',
      ...(state.sha256 ? { 'Tessera-Sha256': state.sha256 } : {}),
    }),
  storageFull: () => new TusError('ERR_STORAGE_FULL', 507, 'Insufficient storage; retry once space is freed'),
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
