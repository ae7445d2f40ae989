import type { IncrementalHash } from './algorithms.js';
import { importNodeBuiltin } from './platform-hashes.js';

type NodeFs = typeof import('node:fs');

/** A body's digest, and the body to send in its place (a consumed stream is replaced). */
export interface DigestedBody {
  readonly digest: Uint8Array;
  readonly body: unknown;
}

interface NodeReadableLike extends AsyncIterable<unknown> {
  pipe(destination: unknown): unknown;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
}

interface FileReadStreamLike extends NodeReadableLike {
  readonly path: string | Buffer;
  readonly start?: number;
  readonly end?: number;
}

/**
 * Hashes what tus-js-client hands an HTTP stack as a chunk body: a Buffer/Uint8Array
 * (Node buffers, browser streams), a Blob (browser files), an fs.ReadStream over a file
 * range (Node paths) or another Node Readable.
 */
export async function digestBody(body: unknown, hash: IncrementalHash): Promise<DigestedBody> {
  if (typeof body === 'string') body = new TextEncoder().encode(body);
  if (body instanceof Uint8Array) {
    hash.update(body);
  } else if (body instanceof ArrayBuffer) {
    hash.update(new Uint8Array(body));
  } else if (ArrayBuffer.isView(body)) {
    hash.update(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
  } else if (isBlob(body)) {
    for await (const piece of blobPieces(body)) hash.update(piece);
  } else if (isFileReadStream(body)) {
    // Hash the same file range through a second stream; the original is sent untouched,
    // so a chunk never has to sit in memory.
    const fs = await importNodeBuiltin<NodeFs>('node:fs');
    const end = body.end !== undefined && Number.isFinite(body.end) ? body.end : undefined;
    for await (const piece of fs.createReadStream(body.path, { start: body.start ?? 0, end })) {
      hash.update(piece as Uint8Array);
    }
  } else if (isNodeReadable(body)) {
    // A one-shot stream cannot be read twice: hold this chunk (at most chunkSize bytes).
    const pieces: Uint8Array[] = [];
    for await (const piece of body) pieces.push(piece as Uint8Array);
    const whole = Buffer.concat(pieces) as Buffer & { size?: number };
    // tus-js-client's Node stack derives Content-Length from `size`.
    whole.size = whole.length;
    hash.update(whole);
    return { digest: await hash.digest(), body: whole };
  } else {
    throw new TypeError(`tus checksum: cannot hash a request body of type ${describe(body)}`);
  }
  return { digest: await hash.digest(), body };
}

function isBlob(body: unknown): body is Blob {
  return typeof Blob !== 'undefined' && body instanceof Blob;
}

async function* blobPieces(blob: Blob): AsyncGenerator<Uint8Array> {
  const reader = blob.stream().getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      yield value;
    }
  } finally {
    reader.releaseLock();
  }
}

function isNodeReadable(body: unknown): body is NodeReadableLike {
  return (
    typeof body === 'object' &&
    body !== null &&
    typeof (body as NodeReadableLike).pipe === 'function' &&
    typeof (body as NodeReadableLike).on === 'function' &&
    Symbol.asyncIterator in body
  );
}

function isFileReadStream(body: unknown): body is FileReadStreamLike {
  if (!isNodeReadable(body)) return false;
  const path = (body as Partial<FileReadStreamLike>).path;
  return typeof path === 'string' || (typeof Buffer !== 'undefined' && Buffer.isBuffer(path));
}

function describe(body: unknown): string {
  if (body === null || typeof body !== 'object') return typeof body;
  return body.constructor?.name ?? 'object';
}
