import { TusError } from '../../../errors.js';
import { CHECKSUM_ALGORITHMS } from './algorithms.js';

const advertised = { 'Tus-Checksum-Algorithm': CHECKSUM_ALGORITHMS.join(',') };

/** Every way a checksummed request fails; each one discards the request's bytes. */
export const checksumErrors = {
  // The spec's own status and reason phrase for a verified-but-wrong body.
  mismatch: () => new TusError('ERR_CHECKSUM_MISMATCH', 460, 'Checksum Mismatch'),
  unsupportedAlgorithm: (name: string) =>
    new TusError(
      'ERR_UNSUPPORTED_CHECKSUM_ALGORITHM',
      400,
      `Unsupported checksum algorithm "${name.slice(0, 32)}"; supported: ${CHECKSUM_ALGORITHMS.join(', ')}`,
      advertised,
    ),
  malformed: (why: string) =>
    new TusError('ERR_INVALID_CHECKSUM', 400, `Malformed Upload-Checksum: ${why}`, advertised),
  headerAndTrailer: () =>
    new TusError('ERR_INVALID_CHECKSUM', 400, 'Upload-Checksum may be sent as a header or as a trailer, not both'),
  trailerNeedsChunked: () =>
    new TusError(
      'ERR_INVALID_CHECKSUM',
      400,
      'An Upload-Checksum trailer needs a chunked body (no Content-Length)',
    ),
  trailerUnavailable: () =>
    new TusError('ERR_INVALID_CHECKSUM', 400, 'HTTP trailers cannot be read on this runtime'),
  trailerMissing: () =>
    new TusError('ERR_CHECKSUM_TRAILER_MISSING', 400, 'The announced Upload-Checksum trailer was not sent; chunk discarded'),
  // The body was cut short (client gone, or the lock holder was asked to release): the bytes
  // cannot be verified. 423 so a client that is still there retries after a HEAD.
  interrupted: () =>
    new TusError(
      'ERR_CHECKSUM_INTERRUPTED',
      423,
      'The request body ended before its checksum could be verified; chunk discarded',
      { 'Retry-After': '1' },
    ),
} as const;
