import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { ERRORS, EVENTS, StreamLimiter, type CancellationContext, type Upload } from '@tus/utils';
import type { SeenReads } from '../../stores/store-adapter.js';
import type { TusRequest } from '../request-facts.js';
import type { TesseraDataStore } from '../tessera-datastore.js';
import type { TusCall, TusHandler } from './handler-layers.js';
import { nodeRequestOf } from './node-request.js';

/**
 * The parts of @tus/server's BaseHandler this module touches; `writeToStore` is protected
 * there, so the handler instance is viewed through this shape.
 */
interface BodyWritingHandler extends TusHandler {
  readonly options: { readonly postReceiveInterval?: number };
  listenerCount(event: string): number;
  emit(event: string, ...args: unknown[]): boolean;
  writeToStore(body: unknown, upload: Upload, maxFileSize: number, context: CancellationContext): Promise<number>;
}

/** What a request handed to @tus/server returns as its `body`: the request itself, with its facts. */
class RequestBody {
  constructor(readonly request: TusRequest) {}
}

const REQUEST = Symbol('tessera.request');

/**
 * The call's request as @tus/server's handlers get it: `body` answers the request with its facts
 * (so the body write below stores it explicitly, as this request's), and the hooks @tus/server
 * calls with the request can ask `requestOf` for its facts.
 */
function carrying(request: TusRequest): Request {
  return attached(request, new RequestBody(request));
}

/**
 * The request with its facts attached, for a hook it is handed to (completion, HTTP hooks):
 * `requestOf` finds who made it and from where.
 */
export function withFactsAttached(request: TusRequest): Request {
  return attached(request, undefined);
}

function attached(request: TusRequest, body: RequestBody | undefined): Request {
  return new Proxy(request.req, {
    get(target, property) {
      if (property === 'body' && body) return body;
      if (property === REQUEST) return request;
      // srvx's Request keeps private fields: its methods and getters must run on the original.
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** The request and facts behind a request @tus/server hands to a hook; undefined for any other. */
export function requestOf(req: Request): TusRequest | undefined {
  return (req as Request & { [REQUEST]?: TusRequest })[REQUEST];
}

/**
 * Makes @tus/server's handler the end of a layer chain, storing request bodies through
 * `store.writeRequestBody` with the request's facts (the checksum it declares, its length, its
 * trailers), read straight from the Node request. @tus/server would turn the body into a web
 * stream and back (`Readable.toWeb` copies every chunk, and the copies are garbage): skipping
 * that round trip cut the server's CPU per 256 MiB upload by 10-14% (interleaved runs, one
 * PATCH and 8 MiB chunks). Everything else the handler does with the body (abort on lock
 * release, the size limit, errors) is kept as upstream does it.
 */
export function upstreamTerminal(handler: TusHandler, store: TesseraDataStore): (call: TusCall) => Promise<Response> {
  const target = handler as BodyWritingHandler;
  const send = target.send.bind(target);
  target.writeToStore = (body, upload, maxFileSize, context) => {
    if (!(body instanceof RequestBody)) throw new Error('a request body reached the store without its request');
    return writeRequestBody(store, body.request, upload, maxFileSize, context, undefined, progressOf(target, upload, withFactsAttached(body.request)));
  };
  return (call) => send(carrying(call), call.context, call.headers);
}

/** Upstream's POST_RECEIVE progress event, at most once per `postReceiveInterval`, when anyone listens. */
export function progressOf(tusHandler: TusHandler, upload: Upload, req?: Request): ((offset: number) => void) | undefined {
  const handler = tusHandler as BodyWritingHandler;
  if (handler.listenerCount(EVENTS.POST_RECEIVE) === 0) return undefined;
  const interval = handler.options.postReceiveInterval ?? 1000;
  let last = Date.now();
  return (offset) => {
    const now = Date.now();
    if (now - last < interval) return;
    last = now;
    handler.emit(EVENTS.POST_RECEIVE, req, { ...upload, offset });
  };
}

/**
 * Stores the request's body at the upload's offset, as @tus/server's BaseHandler.writeToStore
 * does (size limit, abort on lock release), with the Node request as the source.
 */
export async function writeRequestBody(
  store: TesseraDataStore,
  request: TusRequest,
  upload: Pick<Upload, 'id' | 'offset'>,
  maxFileSize: number,
  context: CancellationContext,
  /** What reading the upload under the same lock saw (TesseraDataStore.readUpload). */
  seen?: SeenReads,
  progress?: (offset: number) => void,
): Promise<number> {
  if (context.signal.aborted) throw ERRORS.ABORTED;
  const source: IncomingMessage | undefined = request.facts.nodeRequest ?? nodeRequestOf(request.req);
  if (!source) throw new Error('request bodies are read from the Node request');
  // The store reads the limiter, never the request itself: a failing store never destroys
  // the request (the client still gets an answer), and an abort can end the body early,
  // keeping what arrived.
  const limited = new StreamLimiter(maxFileSize);
  let received = upload.offset;
  // On the source, which pipe already reads in flowing mode (a listener on the limiter would
  // start it flowing before the store reads it).
  const onData = progress ? (chunk: Buffer) => progress((received += chunk.length)) : undefined;
  if (onData) source.on('data', onData);
  let sourceError: unknown;
  const onSourceError = (error: unknown) => {
    sourceError = error;
    source.unpipe(limited);
    if (!context.signal.aborted) limited.destroy(error as Error);
  };
  const onAbort = () => {
    source.unpipe(limited);
    if (!limited.destroyed) limited.end();
  };
  source.on('error', onSourceError);
  context.signal.addEventListener('abort', onAbort, { once: true });
  let stored: Promise<number> | undefined;
  try {
    return await pipeline(source.pipe(limited), () => (stored = store.writeRequestBody(limited, upload.id, upload.offset, request, seen)));
  } catch (error) {
    source.unpipe(limited);
    // pipeline rejects at the first error, while the store may still be rolling the body back:
    // the handler must not unlock (and answer) before the store is done with the upload.
    await stored?.catch(() => undefined);
    const aborted = (sourceError !== undefined && error === sourceError) || (error instanceof Error && error.name === 'AbortError');
    throw aborted ? ERRORS.ABORTED : error;
  } finally {
    source.off('error', onSourceError);
    if (onData) source.off('data', onData);
    context.signal.removeEventListener('abort', onAbort);
  }
}
