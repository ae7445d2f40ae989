import type { CancellationContext } from '@tus/utils';

/** The shape of @tus/server's per-method handlers (the classes themselves are not exported). */
export interface TusHandler {
  send(req: Request, context: CancellationContext, headers?: Headers): Promise<Response>;
}

/**
 * A piece of behaviour placed in front of a @tus/server handler, like an HTTP middleware:
 * it may answer by itself, throw a `TusError`, or call `next()` and adjust the response.
 * `headers` is the object @tus/server also uses for error responses, so headers set on it
 * reach the client whatever the outcome.
 */
export type HandlerLayer = (
  req: Request,
  context: CancellationContext,
  headers: Headers,
  next: () => Promise<Response>,
) => Promise<Response>;

/**
 * Puts layers (outermost first) in front of a handler in place. The handler object itself
 * is kept because @tus/server forwards its event listeners to it.
 */
export function addLayers(handler: TusHandler, layers: readonly HandlerLayer[]): void {
  const original = handler.send.bind(handler);
  handler.send = (req, context, headers = new Headers()) => {
    const run = (index: number): Promise<Response> => {
      const layer = layers[index];
      return layer ? layer(req, context, headers, () => run(index + 1)) : original(req, context, headers);
    };
    return run(0);
  };
}
