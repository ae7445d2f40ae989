import { HEADERS, TUS_RESUMABLE } from '@tus/utils';
import { EXTRA_EXPOSED_HEADERS } from './cors.js';

/** Every response header a browser page on another origin may read from a tus response. */
const EXPOSED = [
  ...new Set([...HEADERS, ...EXTRA_EXPOSED_HEADERS, 'Content-Disposition', 'Content-Length', 'Content-Type']),
].join(', ');

/**
 * The one owner of the headers every response on the tus path carries: `Tus-Resumable` and
 * the CORS headers for the request's origin. Tessera's own answers (the edge's 404/405/412,
 * final creation, downloads, layer errors) and @tus/server's all get them from here, so a
 * cross-origin page can read every answer, success or error.
 */
export class ResponseHeaders {
  constructor(private readonly allowOrigin: (origin: string | null) => string | null) {}

  /** The common headers for a request sent from `origin` (the request's Origin header). */
  for(origin: string | null): Record<string, string> {
    const headers: Record<string, string> = { 'Tus-Resumable': TUS_RESUMABLE, 'Access-Control-Expose-Headers': EXPOSED };
    const allowed = this.allowOrigin(origin);
    if (allowed) headers['Access-Control-Allow-Origin'] = allowed;
    // A list of allowed origins makes the answer depend on Origin: caches must know.
    if (allowed !== '*') headers.Vary = 'Origin';
    return headers;
  }

  /**
   * Puts the common headers on `headers`, replacing what anyone else set for them (and
   * removing an Access-Control-Allow-Origin this request's origin must not get).
   */
  apply(headers: Headers, origin: string | null): void {
    const common = this.for(origin);
    if (!('Access-Control-Allow-Origin' in common)) headers.delete('Access-Control-Allow-Origin');
    for (const [name, value] of Object.entries(common)) headers.set(name, value);
  }
}
