import http from 'node:http';

export interface UnfinishedPatch {
  readonly req: http.ClientRequest;
  /** The status the server answered (0 when the connection failed first). */
  readonly answered: Promise<number>;
  /** Resolves once the bytes sent so far are handed to the socket. */
  readonly written: Promise<void>;
}

/**
 * A PATCH at `offset` declaring `declaredLength` body bytes that sends only `sent` of them and
 * stays open: a client cut off mid-body, for as long as the test keeps it (destroy `req`).
 */
export function unfinishedPatch(url: string, offset: number, declaredLength: number, sent: Buffer, headers: Record<string, string> = {}): UnfinishedPatch {
  const target = new URL(url);
  const req = http.request({
    host: target.hostname,
    port: target.port,
    path: target.pathname,
    method: 'PATCH',
    agent: false,
    headers: {
      'Tus-Resumable': '1.0.0',
      'Upload-Offset': String(offset),
      'Content-Type': 'application/offset+octet-stream',
      'Content-Length': String(declaredLength),
      ...headers,
    },
  });
  const answered = new Promise<number>((resolve) => {
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
  });
  const written = new Promise<void>((resolve) => req.write(sent, () => resolve()));
  return { req, answered, written };
}
