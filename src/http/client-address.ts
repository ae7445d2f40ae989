import type { IncomingMessage } from 'node:http';

/**
 * The address a request came from. Behind a trusted proxy (TRUST_PROXY) that is the address
 * the proxy saw: the last entry of `X-Forwarded-For` (nginx's `$proxy_add_x_forwarded_for`
 * appends it; entries before it are whatever the client claimed), or the last `for=` of
 * `Forwarded`; otherwise, and when neither is there, the socket's peer.
 */
export function clientAddressOf(req: IncomingMessage | undefined, trustProxy: boolean): string {
  const peer = req?.socket.remoteAddress ?? 'unknown';
  if (!trustProxy || !req) return peer;
  const forwardedFor = headerValue(req, 'x-forwarded-for')?.split(',').at(-1)?.trim();
  if (forwardedFor) return forwardedFor;
  const forwarded = headerValue(req, 'forwarded');
  const lastFor = forwarded ? [...forwarded.matchAll(/for=("?)\[?([^\]";,]+)\]?\1/gi)].at(-1)?.[2] : undefined;
  return lastFor ?? peer;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}
