import { Server, type ServerOptions } from '@tus/server';
import { EVENTS, HEADERS, type Locker, type Upload } from '@tus/utils';
import type { Config } from '../../config/config.js';
import { EXTRA_ALLOWED_HEADERS, EXTRA_EXPOSED_HEADERS } from '../../http/cors.js';
import type { Logger } from '../../logging/logger.js';
import { addLayers, type HandlerLayer, type Terminal } from './handler-layers.js';
import { progressOf, upstreamTerminal } from './direct-body.js';
import { errors, hasTusStatus } from '../../errors.js';
import type { Method, TusExtension } from '../extension.js';
import type { RequestFacts } from '../request-facts.js';
import type { TusHooks } from '../hooks.js';
import type { TesseraDataStore } from '../tessera-datastore.js';

/**
 * The one place Tessera touches @tus/server's internals (with direct-body.ts, handler-layers.ts,
 * node-request.ts and node-stream-response.ts beside it). @tus/* are pinned to exact versions in package.json, and
 * test/unit/upstream-contract.test.ts checks every shape relied on here, so an upgrade fails
 * loudly in CI instead of quietly in production:
 * - `server.handlers` is a plain object of handler instances whose `send` can be replaced, and
 *   the server forwards the events a handler emits to its own listeners;
 * - the POST handler has the protected `writeToStore(body, upload, maxSize, context)`, hands the
 *   Upload object it gave onUploadCreate to the store's create, and calls onUploadFinish after
 *   releasing the upload's lock (which is why the completion takes the lock again);
 * - BaseHandler asks the `getFileIdFromRequest` option for every request's upload id;
 * - PostHandler asks the store for the misspelled 'concatentation' extension;
 * - requests arrive as srvx web Requests carrying the Node request on `runtime.node.req`.
 * PATCH is Tessera's own step (src/tus/patch-handler.ts): only @tus/server's header validation
 * and error answers run in front of it.
 */
export const PINNED_VERSIONS = {
  '@tus/server': '2.4.5',
  '@tus/utils': '0.7.1',
  '@tus/file-store': '2.1.1',
  '@tus/s3-store': '2.0.7',
  // The adapter @tus/server answers through (see node-stream-response.ts).
  srvx: '0.11.22',
} as const;

/** The extension name @tus/server's POST handler checks before it allows Upload-Concat (sic). */
export const UPSTREAM_CONCATENATION_NAME = 'concatentation';

/** Tells @tus/server's POST_FINISH listeners that an upload's last byte was stored (Tessera's PATCH step). */
export function emitPostFinish(server: Server, req: Request, res: Response, upload: Upload): void {
  server.handlers.PATCH.emit(EVENTS.POST_FINISH, req, res, upload);
}

/** @tus/server's POST_CREATE for an upload created outside its POST handler (a direct upload): its listeners (hooks, metrics) see it as a creation. */
export function emitPostCreate(server: Server, req: Request, upload: Upload): void {
  server.handlers.POST.emit(EVENTS.POST_CREATE, req, upload);
}

/** @tus/server's POST_RECEIVE progress for a PATCH of `upload` (undefined when nobody listens). */
export function patchProgress(server: Server, upload: Upload, req?: Request): ((offset: number) => void) | undefined {
  return progressOf(server.handlers.PATCH, upload, req);
}

/** An upload's URL as @tus/server's POST handler builds it (relative / forwarded rules). */
export function uploadUrlFor(server: Server, req: Request, id: string): string {
  return server.handlers.POST.generateUrl(req, id);
}

export interface TusServerParts {
  readonly config: Config;
  readonly store: TesseraDataStore;
  readonly locker: Locker;
  readonly log: Logger;
  readonly hooks: TusHooks & Pick<ServerOptions, 'onUploadFinish'>;
  /** Makes each request's facts; the upload it addresses is decided there, for @tus/server too. */
  readonly factsOf: (req: Request) => RequestFacts;
  /** Decides which upload a request addresses (what factsOf records), for @tus/server as for every layer. */
  readonly uploadIdOf: (req: Request) => string | undefined;
  /** Layers put in front of every method's handler, outermost first. */
  readonly commonLayers: readonly HandlerLayer[];
  /** Extensions whose layers go after the common ones, in order. */
  readonly extensions: readonly TusExtension[];
  /** Layers per method that go last, right in front of the handler. */
  readonly layers: Partial<Record<Method, readonly HandlerLayer[]>>;
  /** Methods whose @tus/server handler step Tessera replaces outright. */
  readonly replaced?: Partial<Record<Method, Terminal>>;
}

/**
 * @tus/server appends an unexpected error's message to the 500 body, which can leak paths or
 * internals to clients; answer those with a fixed line instead (the error is logged).
 */
function hideInternals(error: Error | { status_code: number; body: string }) {
  return hasTusStatus(error) ? undefined : { status_code: 500, body: errors.internal().body };
}

/** Builds @tus/server over Tessera's store and locker, with the handler layers in place. */
export function createTusServer(parts: TusServerParts): Server {
  const { config, store, locker, log, hooks } = parts;
  const server = new Server({
    path: config.tusPath,
    datastore: store,
    locker,
    maxSize: config.maxSize > 0 ? config.maxSize : undefined,
    lockDrainTimeout: config.lockDrainTimeoutMs,
    // POST_RECEIVE (the post-receive hook) at most this often per upload.
    ...(config.hooksHttp ? { postReceiveInterval: config.hooksHttp.progressIntervalMs } : {}),
    respectForwardedHeaders: config.trustProxy,
    // A function, not the list: with a list, upstream answers a foreign origin with the first
    // allowed one on the answers it builds before any layer runs (header validation 400s).
    allowedOrigins: config.corsOrigins.length > 0 ? (origin: string) => config.corsOrigins.includes(origin) : undefined,
    // Upstream lists its own names first and appends these as given: no name twice.
    allowedHeaders: EXTRA_ALLOWED_HEADERS.filter((name) => !(HEADERS as readonly string[]).includes(name)),
    exposedHeaders: [...EXTRA_EXPOSED_HEADERS],
    ...hooks,
    // Upstream would take the last segment of the whole URL, query included.
    getFileIdFromRequest: (req) => parts.uploadIdOf(req),
    onResponseError: async (req, error) => (await hooks.onResponseError?.(req, error)) ?? hideInternals(error),
  });
  for (const method of ['GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'DELETE'] as const) {
    const handler = server.handlers[method];
    const fromExtensions = parts.extensions.flatMap((extension) => extension.layers?.[method] ?? []);
    const terminal = parts.replaced?.[method] ?? upstreamTerminal(handler, store);
    addLayers(handler, [...parts.commonLayers, ...fromExtensions, ...(parts.layers[method] ?? [])], parts.factsOf, terminal);
  }
  server.on(EVENTS.POST_CREATE, (_req, upload) =>
    log.info({ uploadId: upload.id, size: upload.size ?? null }, 'upload created'),
  );
  server.on(EVENTS.POST_FINISH, (_req, _res, upload) =>
    log.info({ uploadId: upload.id, size: upload.size ?? null }, 'upload finished'),
  );
  server.on(EVENTS.POST_TERMINATE, (_req, _res, id) => log.info({ uploadId: id }, 'upload terminated'));
  return server;
}
