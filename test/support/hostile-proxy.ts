import net from 'node:net';

/** What the link does to connections. */
export type LinkFault =
  /** Forwards everything. */
  | { readonly kind: 'none' }
  /** Resets each connection (TCP RST both ways) once it has carried `bytes` from the client. */
  | { readonly kind: 'reset-every'; readonly bytes: number }
  /** Each connection goes silent (nothing moves either way, nothing is closed) once it has carried `bytes` from the client. */
  | { readonly kind: 'stall-after'; readonly bytes: number }
  /** A black hole: from now on nothing moves on any connection, old or new, and none is closed. */
  | { readonly kind: 'black-hole' };

export interface HostileProxy {
  /** e.g. http://127.0.0.1:40123: point clients here instead of at the target. */
  readonly url: string;
  /** Changes what the link does, for the connections it carries now and later, counting bytes from now. */
  setFault(fault: LinkFault): void;
  /** Bytes the clients sent that reached the target; connections reset, and gone silent, by the link. */
  readonly stats: { readonly bytesUp: number; readonly resets: number; readonly stalls: number; readonly connections: number };
  stop(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 standing in for a bad network between a client and `target`:
 * resets connections every N bytes, or swallows everything (a black hole). Faults apply to
 * the client → server direction, where uploads suffer them; an answer already on its way
 * still arrives unless the link is a black hole.
 */
export async function startHostileProxy(target: { host: string; port: number }, fault: LinkFault = { kind: 'none' }): Promise<HostileProxy> {
  let current = fault;
  const stats = { bytesUp: 0, resets: 0, stalls: 0, connections: 0 };
  const links = new Set<{ client: net.Socket; upstream: net.Socket; carried: number; silent: boolean }>();
  /** A black hole reads nothing more: the sender's buffers fill and its writes stop, as with a link that acknowledges nothing. */
  const swallow = (link: { client: net.Socket; upstream: net.Socket; silent: boolean }) => {
    link.silent = true;
    link.client.pause();
    link.upstream.pause();
  };

  const server = net.createServer((client) => {
    stats.connections += 1;
    const upstream = net.connect(target.port, target.host);
    const link = { client, upstream, carried: 0, silent: false };
    links.add(link);
    const closeBoth = () => {
      links.delete(link);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', closeBoth).on('close', closeBoth).on('end', () => upstream.end());
    upstream.on('error', closeBoth).on('close', closeBoth).on('end', () => client.end());
    if (current.kind === 'black-hole') swallow(link);
    client.on('data', (chunk: Buffer) => {
      if (current.kind === 'black-hole' || link.silent) return swallow(link);
      let data = chunk;
      if (current.kind === 'stall-after' && link.carried + data.length >= current.bytes) {
        data = data.subarray(0, current.bytes - link.carried);
        upstream.write(data);
        link.carried += data.length;
        stats.bytesUp += data.length;
        stats.stalls += 1;
        return swallow(link);
      }
      if (current.kind === 'reset-every' && link.carried + data.length >= current.bytes) {
        data = data.subarray(0, current.bytes - link.carried);
        if (data.length > 0) upstream.write(data);
        stats.bytesUp += data.length;
        stats.resets += 1;
        links.delete(link);
        client.resetAndDestroy();
        upstream.resetAndDestroy();
        return;
      }
      link.carried += data.length;
      stats.bytesUp += data.length;
      if (!upstream.write(data)) {
        client.pause();
        upstream.once('drain', () => current.kind !== 'black-hole' && client.resume());
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      if (current.kind === 'black-hole' || link.silent) return swallow(link);
      if (!client.write(chunk)) {
        upstream.pause();
        client.once('drain', () => current.kind !== 'black-hole' && upstream.resume());
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    setFault(fault) {
      current = fault;
      // Byte counts start again: a fault counts what connections carry from now on (a client
      // may reuse a kept-alive connection across faults).
      for (const link of links) link.carried = 0;
      // Connections caught in a black hole stay stuck after it ends, as on a real link: only new ones work.
      if (fault.kind === 'black-hole') for (const link of links) swallow(link);
    },
    get stats() {
      return { ...stats };
    },
    async stop() {
      for (const link of links) {
        link.client.destroy();
        link.upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
