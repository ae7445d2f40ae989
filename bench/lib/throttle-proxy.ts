import net from 'node:net';
import { performance } from 'node:perf_hooks';

export interface ThrottleProxyOptions {
  readonly targetPort: number;
  readonly targetHost?: string;
  /** Cap of EACH connection, per direction (a 10 Mbit/s link is 1_250_000). */
  readonly bytesPerSecond: number;
  /** Added one-way delay, per direction. */
  readonly latencyMs: number;
}

export interface ThrottleProxy {
  /** e.g. http://127.0.0.1:41234 */
  readonly baseUrl: string;
  /** Client→server bytes of every connection accepted so far, in accept order. */
  upstreamBytesPerConnection(): number[];
  close(): Promise<void>;
}

/** How much may sit "on the wire" before the sender is paused: a small link queue, like TCP's. */
const QUEUE_MS = 100;

/**
 * A TCP proxy on 127.0.0.1 that models a slow link per connection: bytes leave at
 * `bytesPerSecond` (serialisation) and arrive `latencyMs` later (propagation), in order.
 * The sender is paused while the queue is full, so TCP backpressure reaches the real peer.
 */
export async function startThrottleProxy(options: ThrottleProxyOptions): Promise<ThrottleProxy> {
  const sockets = new Set<net.Socket>();
  const upstream: number[] = [];
  const server = net.createServer((client) => {
    const index = upstream.push(0) - 1;
    const target = net.connect(options.targetPort, options.targetHost ?? '127.0.0.1');
    for (const s of [client, target]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        target.destroy();
      });
    }
    shape(client, target, options, (n) => (upstream[index] = (upstream[index] ?? 0) + n));
    shape(target, client, options, () => {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as net.AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    upstreamBytesPerConnection: () => [...upstream],
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** One direction of one connection. */
function shape(from: net.Socket, to: net.Socket, options: ThrottleProxyOptions, count: (n: number) => void): void {
  const queue: { chunk: Buffer; at: number }[] = [];
  let wireFreeAt = 0;
  let timer: NodeJS.Timeout | undefined;
  let ended = false;

  const deliver = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && (queue[0]?.at ?? Infinity) <= now) {
      const item = queue.shift() as { chunk: Buffer; at: number };
      if (!to.destroyed) to.write(item.chunk);
    }
    if (from.isPaused() && wireFreeAt - now <= QUEUE_MS) from.resume();
    if (queue.length > 0) timer = setTimeout(deliver, Math.max(0, (queue[0]?.at ?? now) - now));
    else if (ended) to.end();
  };

  from.on('data', (chunk: Buffer) => {
    count(chunk.length);
    const now = performance.now();
    wireFreeAt = Math.max(now, wireFreeAt) + (chunk.length / options.bytesPerSecond) * 1000;
    queue.push({ chunk, at: wireFreeAt + options.latencyMs });
    if (wireFreeAt - now > QUEUE_MS) from.pause();
    timer ??= setTimeout(deliver, Math.max(0, (queue[0]?.at ?? now) - now));
  });
  from.on('end', () => {
    ended = true;
    if (queue.length === 0 && timer === undefined) to.end();
  });
  // A clean end drains the queue first (see deliver); an abort drops it, as a cut link would.
  from.on('close', () => {
    if (ended) return;
    if (timer) clearTimeout(timer);
    queue.length = 0;
    to.destroy();
  });
}
