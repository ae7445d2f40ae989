import { ERRORS } from '@tus/utils';
import type { HandlerLayer } from '../handler-layers.js';
import { uploadIdFromUrl } from '../upload-id.js';

/**
 * What an upload id may look like: what the default naming (32 hex digits) and any sane
 * naming function produce. Short enough that every derived name (`<id>.json`, the state
 * file `upload-<id>.json.<uuid>.tmp`, an S3 key) stays under the 255-byte file-name limit,
 * and no leading dot, so no request can name a hidden file in the data dir.
 */
const reUploadId = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;

export function isUploadId(id: string): boolean {
  return reUploadId.test(id);
}

/**
 * Answers 404 for a request that addresses something under the tus path which cannot be an
 * upload (bad escapes, separators, NUL, odd characters, very long names) before any store
 * sees the name: stores and state files would otherwise fail on it with a 500 that echoes
 * internal paths. Creation (POST) and OPTIONS do not address an upload and pass through.
 */
export function uploadIdGuardLayer(tusPath: string): HandlerLayer {
  const base = tusPath === '/' ? '' : tusPath;
  return async (req, _context, _headers, next) => {
    if (req.method === 'POST' || req.method === 'OPTIONS') return next();
    const pathname = new URL(req.url, 'http://localhost').pathname;
    const collection = pathname === base || pathname === `${base}/` || pathname === '/';
    if (collection) return next();
    const id = uploadIdFromUrl(req.url, tusPath);
    if (id === undefined || !isUploadId(id)) throw ERRORS.FILE_NOT_FOUND;
    return next();
  };
}
