import type { IncomingMessage } from 'node:http';

/**
 * The Node request behind the web Request @tus/server hands to handlers and hooks. @tus/server
 * adapts Node requests through srvx, which keeps the Node objects on `runtime.node`: not part
 * of the web Request type, so it is read here, in the upstream seam, and checked by
 * test/unit/upstream-contract.test.ts.
 */
export function nodeRequestOf(request: Request): IncomingMessage | undefined {
  const runtime = (request as Request & { runtime?: { node?: { req?: IncomingMessage } } }).runtime;
  return runtime?.node?.req;
}
