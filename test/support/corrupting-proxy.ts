import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

export interface CorruptingProxyOptions {
  /** Which PATCH (1-based, counted across the proxy's life) gets one byte flipped. */
  readonly corruptPatch: number;
  /** Offset of the flipped byte inside that PATCH's body. */
  readonly byteIndex: number;
}

export interface CorruptingProxy {
  /** The proxy's base URL, e.g. http://127.0.0.1:40123 (paths are forwarded unchanged). */
  readonly url: string;
  /** PATCH requests seen so far. */
  readonly patches: number;
  /** Bodies actually altered (0 or 1). */
  readonly corrupted: number;
  stop(): Promise<void>;
}

/**
 * An HTTP proxy on 127.0.0.1 that forwards everything to `target` as is (Host included, so
 * upload URLs point back at the proxy) except for one PATCH body, in which it flips one
 * bit of one byte: a stand-in for corruption in transit that TCP checksums missed.
 */
export async function startCorruptingProxy(target: string, options: CorruptingProxyOptions): Promise<CorruptingProxy> {
  const upstream = new URL(target);
  let patches = 0;
  let corrupted = 0;

  const server = http.createServer((req, res) => {
    const isTarget = req.method === 'PATCH' && ++patches === options.corruptPatch;
    const forward = http.request({
      host: upstream.hostname,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: req.headers,
    });
    forward.once('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.once('error', () => res.destroy());
    req.once('aborted', () => forward.destroy());
    res.once('close', () => {
      if (!res.writableFinished) forward.destroy();
    });
    const body = isTarget
      ? req.pipe(
          new BitFlip(options.byteIndex, () => {
            corrupted += 1;
          }),
        )
      : req;
    body.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    get patches() {
      return patches;
    },
    get corrupted() {
      return corrupted;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

class BitFlip extends Transform {
  private position = 0;

  constructor(
    private readonly index: number,
    private readonly onFlip: () => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    const at = this.index - this.position;
    this.position += chunk.length;
    if (at < 0 || at >= chunk.length) return callback(null, chunk);
    // The sender may still own this buffer: alter a copy.
    const altered = Buffer.from(chunk);
    altered[at] = (altered[at] ?? 0) ^ 0x01;
    this.onFlip();
    callback(null, altered);
  }
}
