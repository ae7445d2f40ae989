/** The Access-Control-Allow-Origin value for a request origin, or null for none. */
export function corsOriginFor(allowed: readonly string[]): (origin: string | null) => string | null {
  if (allowed.length === 0) return () => '*';
  return (origin) => (origin && allowed.includes(origin) ? origin : null);
}

/** Tus headers a browser must be allowed to send, beyond @tus/server's own list. */
export const EXTRA_ALLOWED_HEADERS = [
  'Upload-Checksum',
  'Upload-Concat',
  'Upload-Defer-Length',
  // Downloads: ranges and conditional requests.
  'Range',
  'If-Range',
  'If-Match',
  'If-None-Match',
  'If-Modified-Since',
  'If-Unmodified-Since',
  // The IETF draft's requests (Resumable Uploads for HTTP).
  'Upload-Draft-Interop-Version',
  'Upload-Complete',
  'Upload-Incomplete',
  'Content-Digest',
  'Repr-Digest',
  'Want-Repr-Digest',
  'Content-Disposition',
] as const;

/** Response headers a browser must be allowed to read, beyond @tus/server's own list. */
export const EXTRA_EXPOSED_HEADERS = [
  'Upload-Checksum',
  'Upload-Expires',
  'Tus-Checksum-Algorithm',
  'Retry-After',
  'Tessera-Sha256',
  'Tessera-Upload-Status',
  'Tessera-Error',
  // Downloads: what a resuming client or a player reads.
  'Accept-Ranges',
  'Content-Range',
  'Content-Disposition',
  'ETag',
  'Last-Modified',
  // The IETF draft's answers.
  'Upload-Complete',
  'Upload-Incomplete',
  'Upload-Limit',
  'Repr-Digest',
] as const;
