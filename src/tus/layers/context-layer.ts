import { tagRequestUpload } from '../../logging/request-upload-id.js';
import type { ResponseHeaders } from '../../http/response-headers.js';
import { errors, hasTusStatus, TusError } from '../../errors.js';
import type { HandlerLayer } from '../upstream/handler-layers.js';
import type { RequestTargets } from '../request-target.js';

/**
 * Outermost layer: gives every response, whoever built it, the common headers (Tus-Resumable,
 * CORS), makes the extra headers of a `TusError` (e.g. Retry-After) part of the error response,
 * logs server errors, and tags a creation's access-log line with the id it created.
 */
export function contextLayer(
  targets: RequestTargets,
  responseHeaders: ResponseHeaders,
  /** The store says this error means it cannot be reached now: answered 503 with Retry-After. */
  storeUnreachable: (error: unknown) => boolean = () => false,
): HandlerLayer {
  return async (call, next) => {
    const { req, headers, facts } = call;
    const origin = req.headers.get('origin');
    // `headers` is what @tus/server answers errors with: set here, they reach every error.
    responseHeaders.apply(headers, origin);
    try {
      const response = await next(call);
      responseHeaders.apply(response.headers, origin);
      const location = response.headers.get('location');
      const created = !facts.uploadId && location ? targets.uploadIdOfLocation(location, req) : undefined;
      if (created && facts.nodeRequest) tagRequestUpload(facts.nodeRequest, created);
      return response;
    } catch (error) {
      const answered = !hasTusStatus(error) && storeUnreachable(error) ? errors.storageUnavailable() : error;
      if (answered instanceof TusError) {
        for (const [name, value] of Object.entries(answered.headers)) headers.set(name, value);
      }
      if (answered !== error) facts.log.warn({ err: error, method: req.method }, 'storage unreachable');
      else if (!hasTusStatus(error) || error.status_code >= 500) facts.log.error({ err: error, method: req.method }, 'request failed');
      throw answered;
    }
  };
}
