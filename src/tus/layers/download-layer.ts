import { Readable } from 'node:stream';
import { create as contentDisposition } from 'content-disposition';
import { ERRORS } from '@tus/utils';
import type { HandlerLayer } from '../upstream/handler-layers.js';
import type { TesseraDataStore } from '../tessera-datastore.js';
import { lifecycleOf } from '../completion/lifecycle.js';
import type { RequestTargets } from '../request-target.js';
import type { UploadStateStore } from '../state/upload-state.js';

// Types a browser may render inline; anything else (HTML, SVG, PDF...) is forced to download
// so an uploaded file can never run script in this origin.
const INLINE_TYPES = new Set([
  'text/plain', 'image/png', 'image/jpeg', 'image/gif', 'image/bmp', 'image/webp',
  'audio/wave', 'audio/wav', 'audio/x-wav', 'audio/webm', 'audio/ogg',
  'video/mp4', 'video/webm', 'video/ogg', 'application/ogg',
]);
const reMimeType = /^[a-z0-9][a-z0-9!#$&^_.+-]*\/[a-z0-9][a-z0-9!#$&^_.+-]*$/i;

export interface DownloadLayerOptions {
  readonly store: TesseraDataStore;
  readonly state: UploadStateStore;
  readonly targets: RequestTargets;
}

/**
 * GET streams a finished upload back. Replaces @tus/server's handler, which quotes raw
 * filenames into Content-Disposition (a non-ASCII or newline name breaks the header).
 */
export function downloadLayer({ store, state, targets }: DownloadLayerOptions): HandlerLayer {
  return async (call) => {
    const { req, headers } = call;
    const id = targets.uploadIdOf(req);
    if (!id) throw ERRORS.FILE_NOT_FOUND;
    const upload = await store.getUpload(id);
    // Only a settled, verified file is ever served: not while it is received or verified,
    // not when it failed (see lifecycle.ts).
    if (lifecycleOf(upload, await state.get(id)) !== 'done') throw ERRORS.FILE_NOT_FOUND;
    const { filetype, filename } = upload.metadata ?? {};
    const type = filetype && reMimeType.test(filetype) ? filetype.toLowerCase() : 'application/octet-stream';
    headers.set('Content-Type', type);
    headers.set('Content-Length', String(upload.size));
    headers.set(
      'Content-Disposition',
      contentDisposition(filename ?? undefined, { type: INLINE_TYPES.has(type) ? 'inline' : 'attachment' }),
    );
    headers.set('X-Content-Type-Options', 'nosniff');
    headers.set('Cache-Control', 'no-store');
    const body = Readable.toWeb(await store.read(id)) as ReadableStream<Uint8Array>;
    return new Response(body, { status: 200, headers });
  };
}
