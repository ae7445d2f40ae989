import { ERRORS } from '@tus/utils';
import type { HandlerLayer } from '../upstream/handler-layers.js';

/**
 * A creation-with-upload whose declared body cannot fit (Content-Length beyond Upload-Length,
 * or beyond the size limit of a deferred-length upload) is refused with 413 before anything
 * is created. @tus/server creates the upload first and checks the body after, leaving an
 * upload behind whose URL the client never learns.
 */
export function creationBodyLayer(maxSize: number): HandlerLayer {
  return async (call, next) => {
    const { req } = call;
    const declared = req.headers.get('content-length');
    if (req.headers.get('content-type') !== 'application/offset+octet-stream' || declared === null) return next(call);
    const bodyLength = Number(declared);
    const uploadLength = req.headers.get('upload-length');
    // Malformed lengths are left to @tus/server's header validation (400).
    if (!Number.isSafeInteger(bodyLength) || (uploadLength !== null && !/^\d+$/.test(uploadLength))) return next(call);
    if (uploadLength !== null && bodyLength > Number(uploadLength)) throw ERRORS.ERR_SIZE_EXCEEDED;
    if (uploadLength === null && maxSize > 0 && bodyLength > maxSize) throw ERRORS.ERR_SIZE_EXCEEDED;
    return next(call);
  };
}
