import type { Logger } from '../../logging/logger.js';
import { tagRequestUpload } from '../../logging/request-upload-id.js';
import { hasTusStatus, TusError } from '../../errors.js';
import type { HandlerLayer } from '../handler-layers.js';
import { nodeRequestOf, requestContext } from '../request-context.js';
import { uploadIdFromUrl } from '../upload-id.js';

/**
 * Outermost layer: opens the request context (logger bound to the upload id) and makes
 * the extra headers of a `TusError` (e.g. Retry-After) part of the error response.
 */
export function contextLayer(log: Logger, tusPath: string): HandlerLayer {
  return async (req, _context, headers, next) => {
    const id = uploadIdFromUrl(req.url, tusPath);
    const ctx = { request: req, nodeRequest: nodeRequestOf(req), log: id ? log.child({ uploadId: id }) : log };
    try {
      const response = await requestContext.run(ctx, next);
      const location = response.headers.get('location');
      const created = !id && location ? uploadIdFromUrl(location, tusPath) : undefined;
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
