import type { NextFunction, Request, Response } from 'express';
import { HEADERS, TUS_RESUMABLE, TUS_VERSION } from '@tus/utils';
import { errors, TusError } from '../errors.js';
import { EXTRA_EXPOSED_HEADERS } from './cors.js';

const EXPOSED = [...new Set([...HEADERS, ...EXTRA_EXPOSED_HEADERS])].join(', ');

const OVERRIDABLE = new Set(['POST', 'HEAD', 'PATCH', 'DELETE', 'OPTIONS', 'GET']);

/**
 * Checks @tus/server gets wrong, done before it sees the request:
 * - X-HTTP-Method-Override (for clients that can only send GET/POST) — not supported upstream;
 * - a missing or unsupported Tus-Resumable is 412 with Tus-Version (upstream: 400 without it);
 * - a PATCH body that is not application/offset+octet-stream is 415 (upstream: 400/403);
 * - a PATCH without Upload-Offset is 400 (upstream: 403).
 */
export function tusPreconditions(corsOrigin: (origin: string | null) => string | null) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const override = req.get('x-http-method-override')?.toUpperCase();
    if (override && OVERRIDABLE.has(override)) req.method = override;

    const failure = check(req);
    if (!failure) return next();
    const origin = corsOrigin(req.get('origin') ?? null);
    if (origin) {
      res.set('Access-Control-Allow-Origin', origin);
      // A browser may read Tus-Version (what to retry with) only when it is exposed.
      res.set('Access-Control-Expose-Headers', EXPOSED);
    }
    res
      .status(failure.status_code)
      .set({ 'Tus-Resumable': TUS_RESUMABLE, 'Tus-Version': TUS_VERSION.join(','), ...failure.headers })
      .type('text/plain')
      .send(failure.body);
  };
}

const methodNotAllowed = () =>
  new TusError('ERR_METHOD_NOT_ALLOWED', 405, 'Method not allowed on a tus endpoint', {
    Allow: [...OVERRIDABLE].join(', '),
  });

function check(req: Request): TusError | undefined {
  // Upstream answers 404 to PUT, TRACE, PROPFIND...: the resource exists, the method does not.
  if (!OVERRIDABLE.has(req.method)) return methodNotAllowed();
  if (req.method === 'OPTIONS' || req.method === 'GET') return undefined;
  const version = req.get('tus-resumable');
  if (version === undefined) return errors.missingVersion();
  if (version !== TUS_RESUMABLE) return errors.unsupportedVersion();
  if (req.method === 'PATCH' && req.get('content-type') !== 'application/offset+octet-stream') {
    return errors.badContentType();
  }
  // Upstream answers 403 here; a missing required header is a malformed request.
  if (req.method === 'PATCH' && req.get('upload-offset') === undefined) return errors.missingOffset();
  return undefined;
}
