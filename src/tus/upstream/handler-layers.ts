import type { CancellationContext } from '@tus/utils';
import type { TusRequest } from '../request-facts.js';

/** The shape of @tus/server's per-method handlers (the classes themselves are not exported). */
export interface TusHandler {
  send(req: Request, context: CancellationContext, headers?: Headers): Promise<Response>;
}

/**
 * One call of a method's handler: the request and its facts, @tus/server's cancellation
 * context, and `headers`, the object @tus/server also answers errors with (headers set on it
 * reach the client whatever the outcome).
 */
export interface TusCall extends TusRequest {
  readonly context: CancellationContext;
  readonly headers: Headers;
}

/**
 * A piece of behaviour placed in front of a handler, like an HTTP middleware: it may answer by
 * itself, throw a `TusError`, or call `next` with the call (and any fact it decided, see
 * `withFacts`) and adjust the response.
 */
export type HandlerLayer = (call: TusCall, next: (call: TusCall) => Promise<Response>) => Promise<Response>;

/** What runs once the layers are through: @tus/server's handler, or a step Tessera replaced. */
export type Terminal = (call: TusCall) => Promise<Response>;

/**
 * Puts layers (outermost first) in front of a handler in place. The handler object itself is
 * kept because @tus/server forwards its event listeners to it. `factsOf` makes each request's
 * facts (the upload it addresses is decided there, once); `terminal` gets the call last.
 */
export function addLayers(
  handler: TusHandler,
  layers: readonly HandlerLayer[],
  factsOf: (req: Request) => TusRequest['facts'],
  terminal: Terminal,
): void {
  handler.send = (req, context, headers = new Headers()) => {
    const run = (index: number, call: TusCall): Promise<Response> => {
      const layer = layers[index];
      return layer ? layer(call, (next) => run(index + 1, next)) : terminal(call);
    };
    return run(0, { req, facts: factsOf(req), context, headers });
  };
}
