import { ERRORS } from '@tus/utils';
import { errors } from '../errors.js';
import type { TusExtension } from '../tus/extension.js';
import type { HandlerLayer } from '../tus/upstream/handler-layers.js';
import { withFacts } from '../tus/request-facts.js';
import type { Authenticate } from './authenticate.js';

const unauthorized = errors.unauthorized;

/**
 * Who may touch an upload: every request is authenticated, every upload records its owner,
 * and anyone else asking for it gets 404 — its existence is not revealed. (A final that
 * names a foreign partial gets 403, see final creation.)
 */
export function ownershipExtension(authenticate: Authenticate): TusExtension {
  const identify: HandlerLayer = async (call, next) => {
    const principal = await authenticate(call.req).catch(() => undefined);
    if (!principal) throw unauthorized();
    if (call.facts.uploadId && (await call.facts.addressedState())?.owner !== principal.owner) throw ERRORS.FILE_NOT_FOUND;
    return next(withFacts(call, { owner: principal.owner }));
  };
  const layers = [identify];
  return { names: [], layers: { POST: layers, HEAD: layers, PATCH: layers, DELETE: layers, GET: layers } };
}
