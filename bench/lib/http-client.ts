import fs from 'node:fs';
import http from 'node:http';
import type { Readable } from 'node:stream';

export interface HttpResult {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

export interface RequestOptions {
  readonly method: string;
  readonly headers?: Record<string, string>;
  readonly body?: Readable | Buffer;
  readonly agent?: http.Agent;
  readonly timeoutMs?: number;
}

/**
 * One HTTP request with a streamed body and a hard time limit. The answer wins over the body:
 * a server may reply (460, 413...) before it has read everything we send.
 */
export function request(url: string, options: RequestOptions): Promise<HttpResult> {
  const { method, headers = {}, body, agent, timeoutMs = 120_000 } = options;
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: agent ?? false });
    const timer = setTimeout(() => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)), timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(error);
    };
    req.on('error', fail);
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      // Bodies are only read for error messages; keep them bounded.
      res.on('data', (d: string) => {
        if (text.length < 64 * 1024) text += d;
      });
      res.on('error', fail);
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text });
      });
    });
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else {
      body.on('error', (error) => req.destroy(error));
      body.pipe(req);
    }
  });
}

/** A read stream over [start, start + length) with large reads, so the client stays cheap. */
export function fileRange(file: string, start: number, length: number): fs.ReadStream {
  return fs.createReadStream(file, { start, end: start + length - 1, highWaterMark: 1 << 20 });
}

export function expectStatus(result: HttpResult, expected: number, what: string): void {
  if (result.status !== expected) {
    throw new Error(`${what}: expected ${expected}, got ${result.status} ${result.body.slice(0, 200)}`);
  }
}
