import type { HttpRequest, HttpResponse, HttpStack } from 'tus-js-client';
import { CLIENT_CHECKSUM_ALGORITHMS, isChecksumAlgorithm, type ChecksumAlgorithm, type HashFactory } from './algorithms.js';
import { digestBody } from './body-digest.js';
import { ForwardingRequest } from './forwarding-request.js';
import { defaultHashFactory } from './platform-hashes.js';

export interface ChecksumOptions {
  /** Algorithm declared in `Upload-Checksum`; default `sha256`. */
  readonly algorithm?: ChecksumAlgorithm;
  /**
   * Supplies the hash; defaults to node:crypto on Node and WebCrypto/pure-JS CRC-32 in
   * browsers. Needed for md5 in browsers (e.g. wrap hash-wasm's `createMD5`).
   */
  readonly createHash?: HashFactory;
}

/**
 * Wraps a tus-js-client HTTP stack so every request that carries upload data (PATCH, or a
 * POST with a body for creation-with-upload or X-HTTP-Method-Override) declares
 * `Upload-Checksum: <algorithm> <base64 digest>` of exactly that body.
 *
 * The server answers 460 when the bytes it received do not match; tus-js-client does not
 * retry 460 by default, so also pass an `onShouldRetry` that does (see `retryOnChecksumMismatch`).
 */
export function withChecksum(inner: HttpStack, options: ChecksumOptions = {}): HttpStack {
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
