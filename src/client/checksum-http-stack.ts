import type { HttpRequest, HttpResponse, HttpStack } from 'tus-js-client';
import { CLIENT_CHECKSUM_ALGORITHMS, isChecksumAlgorithm, type ChecksumAlgorithm, type HashFactory } from './algorithms.js';
import { digestBody } from './body-digest.js';
import { withAdaptiveChunks, type AdaptiveChunkOptions } from './adaptive-chunks.js';
import { ForwardingRequest } from './forwarding-request.js';
import { defaultHashFactory } from './platform-hashes.js';
import { withStallWatchdog } from './stall-watchdog.js';

/** No progress for this long aborts a request (see withStallWatchdog). */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000;

export interface ChecksumOptions {
  /** Algorithm declared in `Upload-Checksum`; default `sha256`. */
  readonly algorithm?: ChecksumAlgorithm;
  /**
   * Supplies the hash; defaults to node:crypto on Node and WebCrypto/pure-JS CRC-32 in
   * browsers. Needed for md5 in browsers (e.g. wrap hash-wasm's `createMD5`).
   */
  readonly createHash?: HashFactory;
  /**
   * Send smaller chunks after one was cut short or arrived damaged, and grow back once they get
   * through (see withAdaptiveChunks); `false` turns it off. On by default: the server discards a
   * checksummed chunk that arrives cut short, so without it a link that resets more often than
   * a chunk's size never lets the upload move.
   */
  readonly adaptiveChunks?: AdaptiveChunkOptions | false;
  /**
   * Abort a request after this long without progress (nothing sent, no answer), so that
   * tus-js-client retries it (see withStallWatchdog); `false` turns it off. Default 30 s.
   */
  readonly stallTimeoutMs?: number | false;
}

/**
 * Wraps a tus-js-client HTTP stack so every request that carries upload data (PATCH, or a
 * POST with a body for creation-with-upload or X-HTTP-Method-Override) declares
 * `Upload-Checksum: <algorithm> <base64 digest>` of exactly that body; with adaptive chunk
 * sizes and a stall watchdog unless turned off (see ChecksumOptions).
 *
 * The server answers 460 when the bytes it received do not match; tus-js-client does not
 * retry 460 by default, so also pass an `onShouldRetry` that does (see `retryOnChecksumMismatch`).
 */
export function withChecksum(inner: HttpStack, options: ChecksumOptions = {}): HttpStack {
  // Outermost first: chunks cut shorter, the checksum of exactly the bytes sent, and the
  // watchdog next to the wire (hashing a body before it goes is no stall).
  const watched = options.stallTimeoutMs === false ? inner : withStallWatchdog(inner, { stallTimeoutMs: options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS });
  const checksummed = checksumOnly(watched, options);
  return options.adaptiveChunks === false ? checksummed : withAdaptiveChunks(checksummed, options.adaptiveChunks ?? {});
}

/** Only the Upload-Checksum header (see withChecksum). */
function checksumOnly(inner: HttpStack, options: ChecksumOptions): HttpStack {
  const algorithm = options.algorithm ?? 'sha256';
  if (!isChecksumAlgorithm(algorithm)) {
    throw new TypeError(
      `tus checksum: unknown algorithm "${String(algorithm)}"; use one of ${CLIENT_CHECKSUM_ALGORITHMS.join(', ')}`,
    );
  }
  const createHash = options.createHash ?? defaultHashFactory;
  return {
    createRequest: (method, url) => new ChecksumRequest(inner.createRequest(method, url), algorithm, createHash),
    getName: () => `${inner.getName()}+checksum(${algorithm})`,
  };
}

class ChecksumRequest extends ForwardingRequest {
  private aborted = false;

  constructor(
    inner: HttpRequest,
    private readonly algorithm: ChecksumAlgorithm,
    private readonly createHash: HashFactory,
  ) {
    super(inner);
  }

  override async send(body: unknown): Promise<HttpResponse> {
    const method = this.inner.getMethod().toUpperCase();
    if (body === null || body === undefined || (method !== 'PATCH' && method !== 'POST')) {
      return this.inner.send(body);
    }
    const hashed = await digestBody(body, await this.createHash(this.algorithm));
    // tus-js-client may abort while the chunk was being hashed; the request must not go out then.
    if (this.aborted) throw new Error('tus checksum: request aborted before it was sent');
    this.inner.setHeader('Upload-Checksum', `${this.algorithm} ${toBase64(hashed.digest)}`);
    return this.inner.send(hashed.body);
  }

  override abort(): Promise<void> {
    this.aborted = true;
    return super.abort();
  }
}

function toBase64(bytes: Uint8Array): string {
  if (typeof Buffer !== 'undefined') return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}
