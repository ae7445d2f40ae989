import type { HandlerLayer } from '../../upstream/handler-layers.js';
import { withFacts } from '../../request-facts.js';
import { CHECKSUM_ALGORITHMS } from './algorithms.js';
import { errors } from '../../../errors.js';
import { announcesChecksumTrailer, parseUploadChecksum } from './checksum-header.js';

/** OPTIONS: advertise the algorithms (the extension names come from the store). */
export const checksumOptionsLayer: HandlerLayer = (call, next) => {
  call.headers.set('Tus-Checksum-Algorithm', CHECKSUM_ALGORITHMS.join(','));
  return next(call);
};

/**
 * PATCH and POST (creation-with-upload): validate a declared checksum before any byte is
 * read; it becomes the request's `checksum` fact, which the store's write guard verifies.
 */
export const checksumUploadLayer: HandlerLayer = (call, next) => {
  const { req, facts } = call;
  const header = req.headers.get('upload-checksum');
  const trailer = announcesChecksumTrailer(req.headers.get('trailer'));
  if (header === null && !trailer) return next(call);
  if (header !== null && trailer) throw errors.checksumHeaderAndTrailer();
  if (header !== null) return next(withFacts(call, { checksum: parseUploadChecksum(header) }));
  // HTTP/1.1 carries trailers only in a chunked body.
  if (req.headers.get('content-length') !== null) throw errors.checksumTrailerNeedsChunked();
  if (!facts.nodeRequest) throw errors.checksumTrailerUnavailable();
  return next(withFacts(call, { checksum: 'trailer' }));
};
