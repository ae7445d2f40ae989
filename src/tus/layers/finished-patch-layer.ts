import { timingSafeEqual } from 'node:crypto';
import { allBytesStored } from '../completion/lifecycle.js';
import type { UploadCompletion } from '../completion/upload-completion.js';
import { createDigester, isChecksumAlgorithm } from '../extensions/checksum/algorithms.js';
import { errors } from '../../errors.js';
import type { HandlerLayer } from '../upstream/handler-layers.js';
import { requestContext } from '../request-context.js';
import type { RequestTargets } from '../request-target.js';
import type { TesseraDataStore } from '../tessera-datastore.js';

/**
 * An empty PATCH at the end of an upload whose bytes are all stored (a client re-sending its
 * last, empty chunk, or resuming after a crash) is answered here: @tus/server would run
 * onUploadFinish again for it. The upload is settled first if it is not yet (a crash during
 * verification is finished by the first request that touches it), so the answer is 204 for a
 * verified file and 460 for a failed one; "file ready" still happens once. A non-empty body
 * still goes on and gets its 413; a declared checksum is still checked (against the empty body).
 */
export function finishedPatchLayer(store: TesseraDataStore, completion: UploadCompletion, targets: RequestTargets): HandlerLayer {
  return async (req, _context, headers, next) => {
    if (req.headers.get('content-length') !== '0') return next();
    const id = targets.uploadIdOf(req);
    const upload = id ? await store.getUpload(id).catch(() => undefined) : undefined;
    if (!id || !upload || !allBytesStored(upload) || req.headers.get('upload-offset') !== String(upload.size)) return next();
    const declared = requestContext.getStore()?.expectedChecksum;
    if (declared && declared !== 'trailer' && isChecksumAlgorithm(declared.algorithm)) {
      const empty = createDigester(declared.algorithm).digest();
      if (empty.length !== declared.digest.length || !timingSafeEqual(empty, declared.digest)) throw errors.checksumMismatch();
    }
    await completion.finish(req, id);
    headers.set('Upload-Offset', String(upload.size));
    return new Response(null, { status: 204, headers });
  };
}
