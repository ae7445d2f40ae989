import { ERRORS } from '@tus/utils';
import { errors } from '../errors.js';
import type { TusExtension } from '../tus/extension.js';
import type { HandlerLayer } from '../tus/upstream/handler-layers.js';
import { requestContext } from '../tus/request-context.js';
import { addressedUploadState } from '../tus/state/addressed-state.js';
import type { UploadStateStore } from '../tus/state/upload-state.js';
import type { RequestTargets } from '../tus/request-target.js';
import type { Authenticate } from './authenticate.js';

const unauthorized = errors.unauthorized;

/**
 * Who may touch an upload: every request is authenticated, every upload records its owner,
 * and anyone else asking for it gets 404 — its existence is not revealed. (A final that
 * names a foreign partial gets 403, see final creation.)
 */
export function ownershipExtension(authenticate: Authenticate, state: UploadStateStore, targets: RequestTargets): TusExtension {
  const identify: HandlerLayer = async (req, _context, _headers, next) => {
    const principal = await authenticate(req).catch(() => undefined);
    if (!principal) throw unauthorized();
    const ctx = requestContext.getStore();
    if (ctx) ctx.owner = principal.owner;
    const id = targets.uploadIdOf(req);
    if (id && (await addressedUploadState(state, id))?.owner !== principal.owner) throw ERRORS.FILE_NOT_FOUND;
    return next();
  };
  const layers = [identify];
  return { names: [], layers: { POST: layers, HEAD: layers, PATCH: layers, DELETE: layers, GET: layers } };
}
