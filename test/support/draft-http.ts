import http from 'node:http';
import net from 'node:net';

/** An answer with the informational answers before it (104 Upload Resumption Supported). */
export interface DraftAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  readonly interim: { status: number; headers: Record<string, string> }[];
}

/**
 * One raw HTTP request on a connection of its own, with its informational answers (Node's
 * `information` event). A Buffer body gets a Content-Length; an array of Buffers is sent chunked.
 */
export function send(url: string, method: string, headers: Record<string, string>, body?: Buffer | readonly Buffer[]): Promise<DraftAnswer> {
  return new Promise((resolve, reject) => {
    const interim: DraftAnswer['interim'] = [];
    const length = Buffer.isBuffer(body) ? { 'Content-Length': String(body.length) } : {};
    const req = http.request(url, { method, agent: false, headers: { ...headers, ...length } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, interim }));
    });
    req.on('information', (info) => interim.push({ status: info.statusCode, headers: info.headers as Record<string, string> }));
    req.on('error', reject);
    if (Array.isArray(body)) {
      for (const piece of body) req.write(piece);
      req.end();
    } else req.end(body);
  });
}

/** An upload URL from a Location relative to the endpoint. */
export const absolute = (endpoint: string, location: string | undefined): string => new URL(location ?? '', endpoint).href;

/** A raw HTTP/1.x connection: write bytes, wait until what the server wrote satisfies a test. */
export class RawConnection {
  text = '';
  closed = false;
  private waiters: (() => void)[] = [];
  readonly socket: net.Socket;

  constructor(origin: string) {
    const { hostname, port } = new URL(origin);
    this.socket = net.connect(Number(port), hostname);
    this.socket.on('data', (chunk: Buffer) => {
      this.text += chunk.toString('latin1');
      this.wake();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    this.socket.on('error', () => undefined);
  }

  write(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  until(test: (text: string) => boolean): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (test(this.text)) return resolve(this.text);
        if (this.closed) return reject(new Error(`connection closed; got ${JSON.stringify(this.text)}`));
        this.waiters.push(check);
      };
      check();
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}
