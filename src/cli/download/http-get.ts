import http from 'node:http';
import https from 'node:https';
import { CliFailure } from '../upload/failure.js';

export interface GetResponse {
  readonly status: number;
  /** The URL that answered, after redirects. */
  readonly url: string;
  header(name: string): string | undefined;
  /** The body, to be read or discarded (`resume()`) by the caller. */
  readonly body: http.IncomingMessage;
}

const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * A GET over node:http(s) that follows redirects (a Tessera with DOWNLOAD_REDIRECT=presigned
 * sends the client to S3). Headers go along only within the same origin: credentials given for
 * the server never reach the store its redirect points at. fetch would refuse ports it deems
 * unsafe, which tus servers use fine.
 */
export async function httpGet(url: string, headers: Readonly<Record<string, string>>, sameOriginOnly: Readonly<Record<string, string>>, signal: AbortSignal): Promise<GetResponse> {
  const origin = new URL(url).origin;
  let target = new URL(url);
  for (let hop = 0; ; hop += 1) {
    const sent = target.origin === origin ? { ...headers, ...sameOriginOnly } : { ...headers };
    const res = await request(target, sent, signal);
    const location = res.headers.location;
    if (!REDIRECTS.has(res.statusCode ?? 0) || !location || hop >= MAX_REDIRECTS) {
      return {
        status: res.statusCode ?? 0,
        url: target.toString(),
        header: (name) => {
          const value = res.headers[name.toLowerCase()];
          return Array.isArray(value) ? value.join(', ') : value;
        },
        body: res,
      };
    }
    res.resume();
    target = new URL(location, target);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') {
      throw new CliFailure('http', `the server redirected to a ${target.protocol.replace(':', '')} URL; only http and https are followed`, res.statusCode);
    }
  }
}

function request(target: URL, headers: Record<string, string>, signal: AbortSignal): Promise<http.IncomingMessage> {
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(target, { method: 'GET', headers, signal }, resolve);
    req.once('error', reject);
    req.end();
  });
}
