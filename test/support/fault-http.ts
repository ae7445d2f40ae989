import http from 'node:http';
import net from 'node:net';
import { TUS } from './tus-http.js';

export interface RawAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/**
 * A PATCH whose body the test sends piece by piece, so it can stop half way (destroy the
 * socket, or leave it hanging while the server is killed). `answer` resolves with the
 * response, or with status 0 when the connection ended without one.
 */
export interface ControlledPatch {
  send(bytes: Buffer): Promise<void>;
  finish(bytes?: Buffer): void;
  /** Drops the connection mid-body, as a client that lost its network would. */
  disconnect(): void;
  readonly answer: Promise<RawAnswer>;
}

export function controlledPatch(url: string, offset: number, contentLength: number, headers: Record<string, string> = {}): ControlledPatch {
  return controlledUpload('PATCH', url, contentLength, { 'Upload-Offset': String(offset), ...headers });
}

/** The same for any request with an upload body (POST: creation-with-upload). */
export function controlledUpload(method: string, url: string, contentLength: number, headers: Record<string, string> = {}): ControlledPatch {
  const target = new URL(url);
  const req = http.request({
    host: target.hostname,
    port: target.port,
    path: target.pathname,
    method,
    agent: false,
    headers: {
      ...TUS,
      'Content-Type': 'application/offset+octet-stream',
      'Content-Length': String(contentLength),
      ...headers,
    },
  });
  const answer = new Promise<RawAnswer>((resolve) => {
    req.once('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      const done = () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      res.once('end', done);
      res.once('error', done);
      res.once('aborted', done);
    });
    req.once('error', () => resolve({ status: 0, headers: {}, body: '' }));
    req.once('close', () => resolve({ status: 0, headers: {}, body: '' }));
  });
  req.flushHeaders();
  return {
    send: (bytes) =>
      new Promise<void>((resolve) => {
        // Resolves once the bytes are handed to the socket (or the socket is gone).
        if (req.write(bytes)) return resolve();
        const done = () => {
          req.off('drain', done);
          req.off('close', done);
          resolve();
        };
        req.once('drain', done);
        req.once('close', done);
      }),
    finish: (bytes) => {
      req.end(bytes);
    },
    disconnect: () => {
      req.destroy();
    },
    answer,
  };
}

/**
 * PATCHes a whole body and returns the answer even when the server answers early and
 * closes the connection while the body is still being sent (a 507 mid-body).
 */
export async function patchTolerant(url: string, offset: number, body: Buffer, headers: Record<string, string> = {}): Promise<RawAnswer> {
  const patch = controlledPatch(url, offset, body.length, headers);
  patch.finish(body);
  return patch.answer;
}

export interface RawRequest {
  readonly method: string;
  /** Sent verbatim on the request line: no normalisation of `..` or escapes. */
  readonly path: string;
  /** Header lines in order; repeated names are sent as repeated lines. */
  readonly headers?: readonly (readonly [string, string])[];
  readonly body?: Buffer | string;
}

/**
 * Sends one HTTP/1.1 request byte for byte over a fresh TCP connection (fetch would
 * normalise paths and refuse odd headers) and parses the status, headers and body.
 */
export function rawRequest(port: number, request: RawRequest): Promise<RawAnswer> {
  const body = request.body === undefined ? Buffer.alloc(0) : Buffer.from(request.body);
  const lines = [`${request.method} ${request.path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Connection: close'];
  const names = new Set((request.headers ?? []).map(([name]) => name.toLowerCase()));
  for (const [name, value] of request.headers ?? []) lines.push(`${name}: ${value}`);
  if (!names.has('content-length') && !names.has('transfer-encoding') && body.length > 0) lines.push(`Content-Length: ${body.length}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(new Error(`no answer to ${request.method} ${request.path.slice(0, 80)} within 10 s`)), 10_000);
    // write, not end: a half-closed connection makes Node's server abort the request.
    socket.once('connect', () => socket.write(Buffer.concat([head, body])));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // The server may reset a connection whose body it did not read; what arrived still counts.
    socket.on('error', (error) => {
      if (chunks.length === 0) {
        clearTimeout(timer);
        reject(error);
      }
    });
    socket.once('close', () => {
      clearTimeout(timer);
      if (chunks.length > 0) resolve(parseAnswer(Buffer.concat(chunks)));
    });
  });
}

function parseAnswer(raw: Buffer): RawAnswer {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const [statusLine = '', ...headerLines] = text.slice(0, end < 0 ? text.length : end).split('\r\n');
  const headers: http.IncomingHttpHeaders = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = end < 0 ? '' : text.slice(end + 4);
  if (/chunked/i.test(String(headers['transfer-encoding'] ?? ''))) body = dechunk(body);
  return { status: Number(statusLine.split(' ')[1] ?? 0), headers, body };
}

function dechunk(body: string): string {
  let out = '';
  let rest = body;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.slice(0, eol), 16);
    if (eol < 0 || !Number.isFinite(size) || size === 0) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 4 + size);
  }
}
