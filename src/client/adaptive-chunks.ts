import type { HttpResponse, HttpStack } from 'tus-js-client';
import { ForwardingRequest } from './forwarding-request.js';
import { importNodeBuiltin } from './platform-hashes.js';
import { StalledRequestError } from './stall-watchdog.js';

type NodeFs = typeof import('node:fs');

/** Why an upload's chunk limit changed. */
export type ChunkSizeReason = 'cut-short' | 'checksum-mismatch' | 'stalled' | 'recovered';

export interface ChunkSizeChange {
  /** The upload (tus-js-client's upload URL; one per part of a parallel upload). */
  readonly url: string;
  /** Bytes per PATCH from now on; undefined: back to tus-js-client's own chunk size. */
  readonly chunkSize: number | undefined;
  readonly reason: ChunkSizeReason;
}

export interface AdaptiveChunkOptions {
  /** The smallest PATCH body it goes down to (default 128 KiB). */
  readonly minChunkSize?: number;
  /** Told when an upload's chunks get smaller, and when they are back to tus-js-client's own size. */
  readonly onChunkSizeChange?: (change: ChunkSizeChange) => void;
}

export const DEFAULT_MIN_CHUNK_SIZE = 128 * 1024;
/** Successful PATCHes at a reduced size before it doubles again. */
const SUCCESSES_TO_GROW = 2;
/** Uploads remembered at a reduced size; the oldest is forgotten beyond this. */
const MAX_TRACKED_UPLOADS = 1000;

/**
 * Wraps a tus-js-client HTTP stack so an upload whose chunks keep being cut short sends
 * smaller ones. A server that verifies a chunk's checksum discards a chunk that arrived cut
 * short (it cannot be verified), so on a link that resets more often than every chunk's size
 * an upload with checksums never moved: each retry resent the same chunk, whole.
 *
 * tus-js-client resumes from the offset the server answers, so this layer sends only the first
 * part of the chunk tus-js-client hands it, and tus-js-client asks for the rest next. After a
 * PATCH failed once bytes had gone out (reset, stall, or a 460 checksum mismatch), that upload's
 * PATCHes are halved (not below `minChunkSize`); after two PATCHes get through at a size, it
 * doubles, until tus-js-client's own chunk size is reached again. A request that failed before
 * sending anything (server down, refused) changes nothing.
 *
 * Sits outside the checksum layer (the checksum covers the bytes actually sent). Bodies it can
 * cut: Uint8Array/Buffer, anything with `size` and `slice(start, end)` (Blob, File), and on Node
 * a file read stream over a range (tus-js-client's chunks of a file path or fs.ReadStream). The
 * last chunk of an upload of deferred length declares `Upload-Length`: cut, it goes without
 * the declaration, which tus-js-client makes again with the rest (a server refuses a length
 * declared twice). Creation-with-upload (a POST) is left alone.
 */
export function withAdaptiveChunks(inner: HttpStack, options: AdaptiveChunkOptions = {}): HttpStack {
  const minChunkSize = options.minChunkSize ?? DEFAULT_MIN_CHUNK_SIZE;
  if (!(minChunkSize > 0)) throw new TypeError(`tus adaptive chunks: minChunkSize must be positive, got ${minChunkSize}`);
  const limits = new ChunkLimits(minChunkSize, options.onChunkSizeChange ?? (() => {}));
  return {
    createRequest: (method, url) => new AdaptiveRequest(inner.createRequest(method, url), limits),
    getName: () => `${inner.getName()}+adaptive-chunks`,
  };
}

/** The reduced chunk size of each upload that needed one. */
class ChunkLimits {
  private readonly limits = new Map<string, { size: number; successes: number }>();

  constructor(
    private readonly minChunkSize: number,
    private readonly report: (change: ChunkSizeChange) => void,
  ) {}

  limitOf(url: string): number | undefined {
    return this.limits.get(url)?.size;
  }

  /**
   * A PATCH of `attempted` bytes failed after some went out (`sent`: as far as the HTTP stack
   * reported, which may lag far behind: progress reports are throttled). Halves the size.
   */
  failed(url: string, attempted: number, sent: number, reason: Exclude<ChunkSizeReason, 'recovered'>): void {
    if (sent <= 0 && reason !== 'checksum-mismatch') return;
    const size = Math.max(this.minChunkSize, Math.floor(attempted / 2));
    const current = this.limits.get(url);
    if (current && current.size <= size) {
      current.successes = 0;
      return;
    }
    this.limits.delete(url);
    this.limits.set(url, { size, successes: 0 });
    if (this.limits.size > MAX_TRACKED_UPLOADS) this.limits.delete(this.limits.keys().next().value as string);
    this.report({ url, chunkSize: size, reason });
  }

  /** A PATCH of `sent` bytes went through; tus-js-client had asked for `requested`. */
  succeeded(url: string, sent: number, requested: number): void {
    const current = this.limits.get(url);
    if (!current || sent < current.size) return;
    current.successes += 1;
    if (current.successes < SUCCESSES_TO_GROW) return;
    const size = current.size * 2;
    if (size >= requested) {
      this.limits.delete(url);
      this.report({ url, chunkSize: undefined, reason: 'recovered' });
      return;
    }
    // Growing back step by step is not worth a report each time; being back in full is.
    this.limits.set(url, { size, successes: 0 });
  }
}

class AdaptiveRequest extends ForwardingRequest {
  private onProgress: (bytesSent: number) => void = () => {};
  private sent = 0;
  private abortedByCaller = false;

  constructor(
    inner: ConstructorParameters<typeof ForwardingRequest>[0],
    private readonly limits: ChunkLimits,
  ) {
    super(inner);
  }

  /** The Upload-Length this request declares: held back, and sent only with an uncut body. */
  private uploadLength: string | undefined;

  override setProgressHandler(handler: (bytesSent: number) => void): void {
    this.onProgress = handler;
  }

  override setHeader(header: string, value: string): void {
    if (header.toLowerCase() === 'upload-length') this.uploadLength = value;
    else super.setHeader(header, value);
  }

  override getHeader(header: string): string | undefined {
    return header.toLowerCase() === 'upload-length' ? this.uploadLength : super.getHeader(header);
  }

  override async send(body: unknown): Promise<HttpResponse> {
    this.inner.setProgressHandler((bytesSent) => {
      this.sent = Math.max(this.sent, bytesSent);
      this.onProgress(bytesSent);
    });
    const requested = this.getMethod().toUpperCase() === 'PATCH' ? sizeOf(body) : undefined;
    const url = this.getURL();
    const limit = requested === undefined ? undefined : this.limits.limitOf(url);
    const cut = requested !== undefined && limit !== undefined && limit < requested ? await cutBody(body, limit) : undefined;
    if (this.uploadLength !== undefined && !cut) super.setHeader('Upload-Length', this.uploadLength);
    if (requested === undefined) return this.inner.send(body);
    const attempted = cut ? limit ?? requested : requested;
    let response: HttpResponse;
    try {
      response = await this.inner.send(cut ?? body);
    } catch (error) {
      // A connection that never came up (refused, no route, no such host) cut nothing short,
      // whatever the stack reported as queued.
      if (!this.abortedByCaller && !neverConnected(error)) {
        this.limits.failed(url, attempted, this.sent, error instanceof StalledRequestError ? 'stalled' : 'cut-short');
      }
      throw error;
    }
    const status = response.getStatus();
    if (status === 460) this.limits.failed(url, attempted, attempted, 'checksum-mismatch');
    else if (status >= 200 && status < 300) this.limits.succeeded(url, attempted, requested);
    return response;
  }

  override abort(): Promise<void> {
    this.abortedByCaller = true;
    return super.abort();
  }
}

interface Sliceable {
  readonly size: number;
  slice(start: number, end: number): unknown;
}

function isSliceable(body: unknown): body is Sliceable {
  return typeof body === 'object' && body !== null && typeof (body as Sliceable).size === 'number' && typeof (body as Sliceable).slice === 'function';
}

/** A Node file read stream over a byte range (`end` inclusive), as tus-js-client makes for a file's chunks. */
interface FileRangeStream {
  readonly path: string | Buffer;
  readonly start?: number;
  readonly end?: number;
  destroy(): void;
}

function isFileRangeStream(body: unknown): body is FileRangeStream {
  if (typeof body !== 'object' || body === null) return false;
  const { path, end, destroy } = body as Partial<FileRangeStream>;
  const named = typeof path === 'string' || (typeof Buffer !== 'undefined' && Buffer.isBuffer(path));
  return named && typeof end === 'number' && Number.isFinite(end) && typeof destroy === 'function';
}

/** The body's length in bytes, when this layer can tell (and so cut it). */
function sizeOf(body: unknown): number | undefined {
  if (body instanceof Uint8Array) return body.byteLength;
  if (isSliceable(body)) return body.size;
  if (isFileRangeStream(body)) return (body.end as number) - (body.start ?? 0) + 1;
  return undefined;
}

/** The first `length` bytes of the body, of the same kind. */
async function cutBody(body: unknown, length: number): Promise<unknown> {
  if (body instanceof Uint8Array) {
    const head = body.subarray(0, length) as Uint8Array & { size?: number };
    // tus-js-client's Node stack takes Content-Length from `size` where a body has one.
    if ((body as { size?: unknown }).size !== undefined) head.size = length;
    return head;
  }
  if (isSliceable(body)) return body.slice(0, length);
  if (isFileRangeStream(body)) {
    const fs = await importNodeBuiltin<NodeFs>('node:fs');
    const start = body.start ?? 0;
    const head = fs.createReadStream(body.path, { start, end: start + length - 1 }) as ReturnType<NodeFs['createReadStream']> & { size?: number };
    head.size = length;
    // The longer stream is not sent: its descriptor must not stay open.
    body.destroy();
    return head;
  }
  return undefined;
}

/** Connection failures that happen before any byte can leave: nothing was cut short. */
const CONNECT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

function neverConnected(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth += 1) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && CONNECT_CODES.has(code)) return true;
    current = (current as { causingError?: unknown; cause?: unknown }).causingError ?? (current as { cause?: unknown }).cause;
  }
  return false;
}
