import type { Logger } from '../../logging/logger.js';
import { tagRequestUpload } from '../../logging/request-upload-id.js';
import type { ResponseHeaders } from '../../http/response-headers.js';
import { hasTusStatus, TusError } from '../../errors.js';
import type { HandlerLayer } from '../upstream/handler-layers.js';
import { requestContext } from '../request-context.js';
import { nodeRequestOf } from '../upstream/node-request.js';
import type { RequestTargets } from '../request-target.js';

/**
 * Outermost layer: opens the request context (logger bound to the upload id), gives every
 * response, whoever built it, the common headers (Tus-Resumable, CORS), and makes the extra
 * headers of a `TusError` (e.g. Retry-After) part of the error response.
 */
export function contextLayer(log: Logger, targets: RequestTargets, responseHeaders: ResponseHeaders): HandlerLayer {
  return async (req, _context, headers, next) => {
    const id = targets.uploadIdOf(req);
    const origin = req.headers.get('origin');
    // `headers` is what @tus/server answers errors with: set here, they reach every error.
    responseHeaders.apply(headers, origin);
    const ctx = { request: req, nodeRequest: nodeRequestOf(req), log: id ? log.child({ uploadId: id }) : log };
    try {
      const response = await requestContext.run(ctx, next);
      responseHeaders.apply(response.headers, origin);
      const location = response.headers.get('location');
      const created = !id && location ? targets.uploadIdOfLocation(location, req) : undefined;
      if (created && ctx.nodeRequest) tagRequestUpload(ctx.nodeRequest, created);
      return response;
    } catch (error) {
      if (error instanceof TusError) {
        for (const [name, value] of Object.entries(error.headers)) headers.set(name, value);
      }
      if (!hasTusStatus(error) || error.status_code >= 500) {
        ctx.log.error({ err: error, method: req.method }, 'request failed');
      }
      throw error;
    }
  };
}
