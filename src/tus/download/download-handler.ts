import { create as contentDisposition } from 'content-disposition';
import { ERRORS } from '@tus/utils';
import { errors, isGoneUpload } from '../../errors.js';
import type { Terminal } from '../upstream/handler-layers.js';
import { nodeStreamResponse } from '../upstream/node-stream-response.js';
import type { TesseraDataStore } from '../tessera-datastore.js';
import { lifecycleOf } from '../completion/lifecycle.js';
import { chooseRange } from './byte-range.js';
import { evaluatePreconditions, validatorsOf } from './validators.js';

// Types a browser may render inline; anything else (HTML, SVG, PDF...) is forced to download
// so an uploaded file can never run script in this origin.
const INLINE_TYPES = new Set([
  'text/plain', 'image/png', 'image/jpeg', 'image/gif', 'image/bmp', 'image/webp',
  'audio/wave', 'audio/wav', 'audio/x-wav', 'audio/webm', 'audio/ogg',
  'video/mp4', 'video/webm', 'video/ogg', 'application/ogg',
]);
const reMimeType = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/i;

export interface DownloadHandlerParts {
  readonly store: TesseraDataStore;
  /** Answer with a redirect to the store's own short-lived download URL (DOWNLOAD_REDIRECT=presigned). */
  readonly redirect?: { readonly ttlMs: number };
}

/**
 * GET streams a finished upload back, replacing @tus/server's handler (which quotes raw
 * filenames into Content-Disposition and knows no ranges or validators). Only a settled,
 * verified file is served (see lifecycle.ts), with:
 * - validators: a strong ETag (the verified SHA-256 when there is one) and Last-Modified, and
 *   the conditional requests they answer (304, 412; validators.ts);
 * - one byte range per request (206, or 416 past the end; byte-range.ts), read from the store
 *   as a range (S3 sends only those bytes).
 */
export function downloadHandler({ store, redirect }: DownloadHandlerParts): Terminal {
  const downloadUrl = redirect && store.adapter.downloadUrl?.bind(store.adapter);
  if (redirect && !downloadUrl) throw new Error('download redirects need a store with download URLs (S3)');
  return async ({ facts, req, headers }) => {
    const id = facts.uploadId;
    if (!id) throw ERRORS.FILE_NOT_FOUND;
    // An upload gone under the request (a DELETE racing it) is simply not there: 404, not the
    // store's 410 for an info file without its data.
    const upload = await store.getUpload(id).catch((error: unknown) => {
      throw isGoneUpload(error) ? ERRORS.FILE_NOT_FOUND : error;
    });
    const record = await facts.addressedState();
    if (lifecycleOf(upload, record) !== 'done' || upload.size === undefined) throw ERRORS.FILE_NOT_FOUND;
    const size = upload.size;
    const validators = validatorsOf({ id, size, sha256: record?.sha256 }, await store.adapter.modifiedAt(id));

    const { filetype, filename } = upload.metadata ?? {};
    const type = filetype && reMimeType.test(filetype) ? filetype.toLowerCase() : 'application/octet-stream';
    headers.set('ETag', validators.etag);
    headers.set('Last-Modified', validators.lastModified.toUTCString());
    // Any cache keeps it to one user, and asks again each time (cheap: 304).
    headers.set('Cache-Control', 'private, no-cache');
    headers.set('Accept-Ranges', 'bytes');
    headers.set('X-Content-Type-Options', 'nosniff');

    const precondition = evaluatePreconditions(req.headers, validators);
    if (precondition === 412) throw errors.preconditionFailed();
    if (precondition === 304) return new Response(null, { status: 304, headers });

    const disposition = contentDisposition(filename ?? undefined, { type: INLINE_TYPES.has(type) ? 'inline' : 'attachment' });
    if (redirect && downloadUrl) {
      // The bytes come from the store (ranges and conditional requests go there too); this
      // answer, its URL signed for one caller, is never cached.
      headers.set('Location', await downloadUrl(id, { contentType: type, contentDisposition: disposition }, redirect.ttlMs));
      headers.set('Cache-Control', 'no-store');
      return new Response(null, { status: 307, headers });
    }
    headers.set('Content-Type', type);
    headers.set('Content-Disposition', disposition);
    const range = chooseRange(req.headers, size, validators);
    if (range.kind === 'unsatisfiable') throw errors.rangeNotSatisfiable(size);
    if (range.kind === 'whole') {
      headers.set('Content-Length', String(size));
      if (size === 0) return new Response(null, { status: 200, headers });
      // Read as the range 0..size-1: the stream ends with its last byte instead of one more
      // read to find the end of the file, so the response ends as the client gets that byte.
      return nodeStreamResponse(await store.read(id, { start: 0, end: size - 1 }), { status: 200, headers });
    }
    headers.set('Content-Range', `bytes ${range.start}-${range.end}/${size}`);
    headers.set('Content-Length', String(range.end - range.start + 1));
    return nodeStreamResponse(await store.read(id, range), { status: 206, headers });
  };
}
