import type { HandlerLayer } from '../../upstream/handler-layers.js';
import { requestContext } from '../../request-context.js';
import { CHECKSUM_ALGORITHMS } from './algorithms.js';
import { errors } from '../../../errors.js';
import { announcesChecksumTrailer, parseUploadChecksum } from './checksum-header.js';

/** OPTIONS: advertise the algorithms (the extension names come from the store). */
export const checksumOptionsLayer: HandlerLayer = (_req, _context, headers, next) => {
  headers.set('Tus-Checksum-Algorithm', CHECKSUM_ALGORITHMS.join(','));
  return next();
};

/**
 * PATCH and POST (creation-with-upload): validate a declared checksum before any byte is
 * read, and leave the expectation in the request context for the store's write guard.
 */
export const checksumUploadLayer: HandlerLayer = (req, _context, _headers, next) => {
  const header = req.headers.get('upload-checksum');
  const trailer = announcesChecksumTrailer(req.headers.get('trailer'));
  if (header === null && !trailer) return next();

  const ctx = requestContext.getStore();
  // Without the context the guard could not see the expectation and would skip verification.
  if (!ctx) throw new Error('checksum layer needs the request context layer in front of it');
  if (header !== null && trailer) throw errors.checksumHeaderAndTrailer();
  if (header !== null) {
    ctx.expectedChecksum = parseUploadChecksum(header);
  } else {
    // HTTP/1.1 carries trailers only in a chunked body.
    if (req.headers.get('content-length') !== null) throw errors.checksumTrailerNeedsChunked();
    if (!ctx.nodeRequest) throw errors.checksumTrailerUnavailable();
    ctx.expectedChecksum = 'trailer';
  }
  return next();
};
