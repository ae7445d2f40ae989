import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type Express } from 'express';
import type { Registry } from 'prom-client';
import type { Server as TusServer } from '@tus/server';
import type { Logger } from '../logging/logger.js';
import { taggedRequestUpload } from '../logging/request-upload-id.js';
import type { RequestTargets } from '../tus/request-target.js';
import { errors } from '../errors.js';
import { withReasonPhrases } from './reason-phrases.js';
import { requestLog } from './request-log.js';
import type { ResponseHeaders } from './response-headers.js';
import { sendPlain, tusPreconditions } from './tus-preconditions.js';
import { mountWebUi, type WebUiOptions } from './web-ui.js';

export interface AppParts {
  readonly targets: RequestTargets;
  readonly tus: TusServer;
  readonly log: Logger;
  readonly responseHeaders: ResponseHeaders;
  /** Resolves when every dependency can serve; rejects with the reason otherwise. */
  readonly checkReady: () => Promise<void>;
  /** Prometheus registry served at /metrics. */
  readonly metrics: Registry;
  /** When set, /metrics wants it as a bearer token (METRICS_TOKEN). */
  readonly metricsToken?: string;
  /** False when /metrics has a listener of its own (METRICS_PORT): the tus port does not serve it. */
  readonly servesMetrics?: boolean;
  /** The browser upload page; omitted when it is turned off. */
  readonly webUi?: WebUiOptions;
  /** S3_DIRECT: the direct-upload API, served under /s3. */
  readonly directRoutes?: express.Router;
  /** Requests of the IETF draft (Upload-Draft-Interop-Version) translated at the tus path's edge. */
  readonly draftRequests?: express.RequestHandler;
}

/** GET /metrics: Prometheus text, behind the bearer token when one is set. */
export function metricsHandler(metrics: Registry, metricsToken: string | undefined): express.RequestHandler {
  return async (req, res) => {
    if (metricsToken && !bearerMatches(req.headers.authorization, metricsToken)) {
      res.status(401).set('WWW-Authenticate', 'Bearer').type('text/plain').send('Authentication required: send the metrics token as a bearer token\n');
      return;
    }
    res.type(metrics.contentType).send(await metrics.metrics());
  };
}

/** The application of the metrics listener (METRICS_PORT): /metrics only. */
export function createMetricsApp(metrics: Registry, metricsToken: string | undefined): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', metricsHandler(metrics, metricsToken));
  app.use((_req, res) => {
    res.status(404).type('text/plain').send('Not found\n');
  });
  return app;
}

/** The Express application: probes, then the tus endpoint (no body parsing anywhere). */
export function createApp({ targets, tus, log, responseHeaders, checkReady, metrics, metricsToken, servesMetrics = true, webUi, directRoutes, draftRequests }: AppParts): Express {
  const { tusPath } = targets;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  if (servesMetrics) app.get('/metrics', metricsHandler(metrics, metricsToken));
  app.get('/readyz', async (_req, res) => {
    try {
      await checkReady();
      res.json({ status: 'ready' });
    } catch (error) {
      res.status(503).json({ status: 'not ready', reason: error instanceof Error ? error.message : String(error) });
    }
  });

  const logRequest = requestLog(log, (req) => {
    const target = targets.ofNode(req);
    return target?.kind === 'upload' ? target.id : taggedRequestUpload(req);
  });
  const handleTus = (req: express.Request, res: express.Response) => {
    withReasonPhrases(res);
    // A failure while the answer is written (a header Node refuses, say) is one request's: logged
    // and that request ended, never an unhandled rejection that takes the process down.
    tus.handle(req, res).catch((error: unknown) => {
      log.error({ err: error, method: req.method, url: req.originalUrl }, 'request failed while its answer was written');
      if (res.headersSent) res.destroy();
      else sendPlain(res, errors.internal(), responseHeaders.for(req.get('origin') ?? null));
    });
  };
  const tusRoutes = tusPath === '/' ? ['/', '/{*splat}'] : [tusPath, `${tusPath}/{*splat}`];
  app.all(tusRoutes, logRequest, ...(draftRequests ? [draftRequests] : []), tusPreconditions(targets, responseHeaders), handleTus);
  if (directRoutes) app.use('/s3', requestLog(log, (req) => (typeof req.query.key === 'string' ? req.query.key : undefined)), directRoutes);
  if (webUi) mountWebUi(app, webUi);
  app.use(answerErrors(tusPath, responseHeaders, log));
  return app;
}

/**
 * Errors Express meets before a handler answers (a path whose percent-escapes do not decode,
 * say) get one plain-text line, never Express's HTML page with a stack trace; under the tus
 * path with the common tus headers, and a target that cannot be decoded is a 404 like any
 * other unresolvable one.
 */
function answerErrors(tusPath: string, responseHeaders: ResponseHeaders, log: Logger): express.ErrorRequestHandler {
  const base = tusPath === '/' ? '' : tusPath;
  return (error: unknown, req, res, _next) => {
    const path = req.originalUrl.split('?')[0] ?? '';
    const onTusPath = tusPath === '/' || path === base || path.startsWith(`${base}/`);
    const undecodable = error instanceof URIError;
    if (!undecodable) log.error({ err: error, method: req.method, url: req.originalUrl }, 'request failed');
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    const failure = undecodable ? (onTusPath ? errors.notFound() : errors.badRequest()) : errors.internal();
    sendPlain(res, failure, onTusPath ? responseHeaders.for(req.get('origin') ?? null) : {});
  };
}

/** `Authorization: Bearer <token>` names exactly `expected` (compared in constant time). */
function bearerMatches(authorization: string | undefined, expected: string): boolean {
  const given = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  if (!given) return false;
  const [a, b] = [createHash('sha256').update(given).digest(), createHash('sha256').update(expected).digest()];
  return timingSafeEqual(a, b);
}
