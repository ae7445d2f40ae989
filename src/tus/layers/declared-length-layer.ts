import { ERRORS } from '@tus/utils';
import type { HandlerLayer } from '../upstream/handler-layers.js';
import type { RequestTargets } from '../request-target.js';
import type { TesseraDataStore } from '../tessera-datastore.js';

const reDigits = /^\d+$/;

/**
 * A PATCH that declares `Upload-Length` with a body that cannot fit (offset + Content-Length
 * beyond it) is refused with 413 before anything is declared. @tus/server declares the length
 * first and checks the body after: its 413 would leave the length declared, completing the
 * upload at the offset it had (when the two are equal) without anyone verifying it.
 * Malformed values, a wrong offset (409) and a length already set (400) are left to upstream.
 */
export function declaredLengthLayer(store: TesseraDataStore, targets: RequestTargets): HandlerLayer {
  return async (req, _context, _headers, next) => {
    const declared = req.headers.get('upload-length');
    const body = req.headers.get('content-length');
    const offset = req.headers.get('upload-offset');
    if (declared === null || body === null || offset === null) return next();
    if (!reDigits.test(declared) || !reDigits.test(body) || !reDigits.test(offset)) return next();
    const id = targets.uploadIdOf(req);
    const upload = id ? await store.getUpload(id).catch(() => undefined) : undefined;
    if (!upload || upload.size !== undefined || upload.offset !== Number(offset)) return next();
    if (Number(offset) + Number(body) > Number(declared)) throw ERRORS.ERR_SIZE_EXCEEDED;
    return next();
  };
}
