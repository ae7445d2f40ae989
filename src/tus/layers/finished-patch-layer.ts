import { timingSafeEqual } from 'node:crypto';
import { createDigester, isChecksumAlgorithm } from '../extensions/checksum/algorithms.js';
import { checksumErrors } from '../extensions/checksum/checksum-errors.js';
import type { HandlerLayer } from '../handler-layers.js';
import { requestContext } from '../request-context.js';
import type { TesseraDataStore } from '../tessera-datastore.js';
import type { RequestTargets } from '../request-target.js';

/**
 * An empty PATCH at the end of an upload that is already complete (a client re-sending its
 * last, empty chunk) is answered 204 here. @tus/server would run onUploadFinish again for
 * it, which would verify the file again and notify integrators a second time: "file ready"
 * must happen exactly once per file. A non-empty body still goes on and gets its 413; a
 * declared checksum is still checked (against the empty body).
 */
export function finishedPatchLayer(store: TesseraDataStore, targets: RequestTargets): HandlerLayer {
  return async (req, _context, headers, next) => {
    if (req.headers.get('content-length') !== '0') return next();
    const id = targets.uploadIdOf(req);
    const upload = id ? await store.getUpload(id).catch(() => undefined) : undefined;
    const finished = upload?.size !== undefined && upload.offset === upload.size;
    if (!upload || !finished || req.headers.get('upload-offset') !== String(upload.size)) return next();
    const declared = requestContext.getStore()?.expectedChecksum;
    if (declared && declared !== 'trailer' && isChecksumAlgorithm(declared.algorithm)) {
      const empty = createDigester(declared.algorithm).digest();
      if (empty.length !== declared.digest.length || !timingSafeEqual(empty, declared.digest)) throw checksumErrors.mismatch();
    }
    headers.set('Upload-Offset', String(upload.size));
    return new Response(null, { status: 204, headers });
  };
}
