import http from 'node:http';
import https from 'node:https';

export interface PlainResponse {
  readonly status: number;
  header(name: string): string | undefined;
  readonly body: string;
}

/**
 * A body-less request (OPTIONS, HEAD) over node:http, as tus-js-client's Node stack sends
 * its own; fetch would refuse ports it deems unsafe (6000, 10080 ...) that tus uploads use fine.
 * With `stallTimeoutMs`, a connection on which nothing moves for that long fails with
 * ETIMEDOUT (retried like any network error) instead of waiting forever; TCP keep-alive on the
 * socket finds a dead peer sooner.
 */
export function plainRequest(url: string, method: string, headers: Readonly<Record<string, string>>, stallTimeoutMs = 0): Promise<PlainResponse> {
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(target, { method, headers: { ...headers } }, (res) => {
      const pieces: Buffer[] = [];
      res.on('data', (piece: Buffer) => pieces.push(piece));
      res.once('error', reject);
      res.once('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          header: (name) => {
            const value = res.headers[name.toLowerCase()];
            return Array.isArray(value) ? value.join(', ') : value;
          },
          body: Buffer.concat(pieces).toString('utf8'),
        }),
      );
    });
    req.once('error', reject);
    if (stallTimeoutMs > 0) {
      req.once('socket', (socket) => socket.setKeepAlive(true, 5_000));
      req.setTimeout(stallTimeoutMs, () => {
        const error = new Error(`no answer for ${Math.round(stallTimeoutMs / 1000)} s (${method}): the connection stalled`) as NodeJS.ErrnoException;
        error.code = 'ETIMEDOUT';
        req.destroy(error);
      });
    }
    req.end();
  });
}
