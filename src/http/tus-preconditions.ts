import type { NextFunction, Request, Response } from 'express';
import { TUS_RESUMABLE, TUS_VERSION } from '@tus/utils';
import { errors, TusError } from '../errors.js';
import type { RequestTargets } from '../tus/request-target.js';
import type { ResponseHeaders } from './response-headers.js';

const OVERRIDABLE = new Set(['POST', 'HEAD', 'PATCH', 'DELETE', 'OPTIONS', 'GET']);

/**
 * The edge of the tus path, before @tus/server sees a request:
 * - X-HTTP-Method-Override (for clients that can only send GET/POST) — not supported upstream;
 * - a request-target that is neither the collection nor one upload is 404 here (see
 *   request-target.ts), so no store or state is ever asked about it;
 * - a missing or unsupported Tus-Resumable is 412 with Tus-Version (upstream: 400 without it);
 * - a PATCH body that is not application/offset+octet-stream is 415 (upstream: 400/403);
 * - a PATCH without Upload-Offset is 400 (upstream: 403).
 */
export function tusPreconditions(targets: RequestTargets, responseHeaders: ResponseHeaders) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const override = req.get('x-http-method-override')?.toUpperCase();
    if (override && OVERRIDABLE.has(override)) req.method = override;

    const failure = check(req, targets);
    if (!failure) return next();
    sendPlain(res, failure, { ...responseHeaders.for(req.get('origin') ?? null), 'Tus-Version': TUS_VERSION.join(',') });
  };
}

const methodNotAllowed = errors.methodNotAllowed;

/**
 * Answers with the error's one line, framed for the method on the wire. Not Express's send:
 * after an X-HTTP-Method-Override to HEAD it would drop the body but keep its Content-Length
 * while Node frames the answer for the GET or POST that was sent, breaking the connection.
 */
export function sendPlain(res: Response, failure: TusError, headers: Readonly<Record<string, string>>): void {
  res.writeHead(failure.status_code, {
    ...headers,
    ...failure.headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(failure.body)),
  });
  res.end(failure.body);
}

function check(req: Request, targets: RequestTargets): TusError | undefined {
  // Upstream answers 404 to PUT, TRACE, PROPFIND...: the resource exists, the method does not.
  if (!OVERRIDABLE.has(req.method)) return methodNotAllowed([...OVERRIDABLE]);
  const target = targets.ofNode(req);
  if (target === undefined) return errors.notFound();
  // Upstream would create a new upload for a POST to an upload's URL.
  if (target.kind === 'upload' && req.method === 'POST') return methodNotAllowed(['HEAD', 'PATCH', 'DELETE', 'GET', 'OPTIONS']);
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
