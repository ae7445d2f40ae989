import net from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

export interface ThrottleProxy {
  /** e.g. http://127.0.0.1:40123 — point clients here instead of at the target. */
  readonly url: string;
  /** Changes the cap for connections made from now on (Infinity: none). */
  setRate(bytesPerSecond: number): void;
  stop(): Promise<void>;
}

export interface ThrottleOptions {
  /** Which way the cap applies: what clients send (uploads, the default) or what they receive (downloads). */
  readonly direction?: 'upload' | 'download';
}

/**
 * A TCP proxy on 127.0.0.1 that caps what each client connection sends upstream (or, for
 * downloads, receives) at `bytesPerSecond`, so a transfer lasts long enough to be interrupted. The target may go
 * away and come back (a server restart): connections that cannot reach it are closed, as
 * a client would see a server that is down.
 */
export async function startThrottleProxy(
  target: { host: string; port: number },
  bytesPerSecond: number,
  options: ThrottleOptions = {},
): Promise<ThrottleProxy> {
  let rate = bytesPerSecond;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    sockets.add(client).add(upstream);
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.once('close', () => sockets.delete(client)).once('error', closeBoth).once('end', () => upstream.end());
    upstream.once('close', () => {
      sockets.delete(upstream);
      client.destroy();
    });
    upstream.once('error', closeBoth);
    const throttle = (source: net.Socket, sink: net.Socket) =>
      (Number.isFinite(rate) ? source.pipe(new Throttle(rate)) : source).pipe(sink);
    if (options.direction === 'download') {
      client.pipe(upstream);
      throttle(upstream, client);
    } else {
      throttle(client, upstream);
      upstream.pipe(client);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    setRate(bytesPerSecond) {
      rate = bytesPerSecond;
    },
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

class Throttle extends Transform {
  /** When the bytes passed so far are paid for; idle time earns no burst. */
  private paidUntil = Date.now();

  constructor(private readonly bytesPerSecond: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const now = Date.now();
    this.paidUntil = Math.max(this.paidUntil, now) + (chunk.length / this.bytesPerSecond) * 1000;
    setTimeout(() => callback(null, chunk), Math.max(0, this.paidUntil - now));
  }
}
