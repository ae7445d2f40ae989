import express, { type Router } from 'express';
import { errors, TusError } from '../errors.js';
import type { Logger } from '../logging/logger.js';
import { callerOf, type DirectUploadParts, type DirectUploads } from './direct-uploads.js';

export interface DirectRoutesParts {
  readonly uploads: DirectUploads;
  readonly callers: Pick<DirectUploadParts, 'identify' | 'factsOf' | 'rateLimit'>;
  /** The Access-Control-Allow-Origin value for a request's origin (CORS_ORIGINS), or null for none. */
  readonly allowOrigin: (origin: string | null) => string | null;
  /** The store could not be reached (answered 503, retry later). */
  readonly unreachable: (error: unknown) => boolean;
  readonly log: Logger;
}

/** Completion bodies list up to 10,000 parts; nothing else comes close. */
const MAX_JSON_BYTES = 1024 * 1024;

/**
 * The HTTP face of direct uploads under `/s3`, the paths and JSON shapes @uppy/aws-s3 6.x calls on
 * a Companion endpoint (its `CompanionS3` client): POST /s3/multipart, GET
 * /s3/multipart/:uploadId/:partNumber, GET /s3/multipart/:uploadId, POST
 * /s3/multipart/:uploadId/complete, DELETE /s3/multipart/:uploadId, each with `?key=`. Errors are
 * the catalogue's, one plain-text line; every answer carries CORS for the caller's origin.
 */
export function directRoutes(parts: DirectRoutesParts): Router {
  const router = express.Router();
  const { uploads } = parts;

  router.use((req, res, next) => {
    const allowed = parts.allowOrigin(req.get('origin') ?? null);
    if (allowed) res.set('Access-Control-Allow-Origin', allowed);
    if (allowed !== '*') res.vary('Origin');
    if (req.method !== 'OPTIONS') return next();
    res
      .set('Access-Control-Allow-Methods', 'GET, POST, DELETE')
      .set('Access-Control-Allow-Headers', 'Authorization, Content-Type')
      .set('Access-Control-Max-Age', '86400')
      .status(204)
      .end();
  });

  /** Runs one operation for the caller and answers its result as JSON (or its error as one line). */
  const answer =
    (operation: (caller: Awaited<ReturnType<typeof callerOf>>, req: express.Request) => Promise<unknown>): express.RequestHandler =>
    async (req, res) => {
      try {
        const url = new URL(req.originalUrl, `http://${req.get('host') ?? 'localhost'}`);
        const caller = await callerOf(parts.callers, req, url);
        const result = await operation(caller, req);
        res.status(200).json(result ?? {});
      } catch (error) {
        const failure = asTusError(error, parts.unreachable);
        if (failure.status_code >= 500 && failure.code !== 'ERR_STORAGE_UNAVAILABLE') parts.log.error({ err: error, method: req.method, url: req.originalUrl }, 'direct upload request failed');
        res.status(failure.status_code).set(failure.headers).type('text/plain').send(failure.body);
      }
    };
  const keyOf = (req: express.Request) => {
    const key = req.query.key;
    if (typeof key !== 'string' || key === '') throw errors.directBadRequest('?key= names the upload');
    return key;
  };
  const param = (req: express.Request, name: string) => String(req.params[name] ?? '');
  const json = express.json({ limit: MAX_JSON_BYTES, type: () => true });

  router.post('/multipart', json, answer((caller, req) => uploads.create(caller, req.body)));
  router.get('/multipart/:uploadId/:partNumber', answer((caller, req) =>
    uploads.signPart(caller, keyOf(req), param(req, 'uploadId'), param(req, 'partNumber'), typeof req.query.md5 === 'string' ? req.query.md5 : undefined, typeof req.query.size === 'string' ? req.query.size : undefined),
  ));
  router.get('/multipart/:uploadId', answer((caller, req) => uploads.listParts(caller, keyOf(req), param(req, 'uploadId'))));
  router.post('/multipart/:uploadId/complete', json, answer((caller, req) => uploads.complete(caller, keyOf(req), param(req, 'uploadId'), req.body)));
  router.delete('/multipart/:uploadId', answer(async (caller, req) => {
    await uploads.abort(caller, keyOf(req), param(req, 'uploadId'));
  }));
  // @uppy/aws-s3 asks here for a presigned POST for files it does not send as multipart: every
  // direct upload is multipart here (the server completes it, so it is verified and announced).
  router.get('/params', answer(async () => {
    throw errors.directBadRequest('Direct uploads are multipart only: set shouldUseMultipart: true on @uppy/aws-s3');
  }));
  router.use((_req, res) => {
    res.status(404).type('text/plain').send(errors.notFound().body);
  });
  // A body that is no JSON, or too large (express.json's own errors), is the client's mistake, one line.
  router.use(((error, _req, res, _next) => {
    const type = (error as { type?: string }).type;
    const failure =
      type === 'entity.too.large'
        ? errors.directTooLarge(`The body is larger than ${MAX_JSON_BYTES} bytes`)
        : type
          ? errors.directBadRequest('The body is not valid JSON')
          : asTusError(error, parts.unreachable);
    res.status(failure.status_code).type('text/plain').send(failure.body);
  }) as express.ErrorRequestHandler);
  return router;
}

/** Any error as the answer it gets: the catalogue's and @tus/utils' as they are, the store unreachable 503, the rest 500. */
function asTusError(error: unknown, unreachable: (error: unknown) => boolean): TusError {
  if (error instanceof TusError) return error;
  const tus = error as { status_code?: number; body?: string };
  if (typeof tus.status_code === 'number' && typeof tus.body === 'string') return new TusError('ERR_TUS', tus.status_code, tus.body.trim());
  if (unreachable(error)) return errors.storageUnavailable();
  return errors.internal();
}
