import { createHash, type Hash } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { drainedOrClosed } from './part-files.js';

export interface DirectPartOptions {
  readonly partSize: number;
  /** Bytes the source will deliver if nobody cuts it short. */
  readonly expectedBytes: number;
  /** Waits for an upload slot; the slot's release() is called when its part is done. */
  acquire(): Promise<{ release(): Promise<void> }>;
  /**
   * One UploadPart of exactly `size` bytes, given up when `signal` aborts. `sentMd5()` is the
   * MD5 of the bytes written into `body`, final once S3 has answered (to check S3's ETag
   * against: a streamed part cannot carry Content-MD5, which must precede its bytes).
   */
  uploadPart(body: Readable, partNumber: number, size: number, signal: AbortSignal, sentMd5: () => Buffer): Promise<unknown>;
  /** Receives each part's upload at once: its size once stored, 0 if it was given up. */
  track(upload: Promise<number>): void;
}

export interface DirectParts {
  /** The source after the whole parts: what still goes through temp files. */
  readonly rest: Readable;
  readonly nextPartNumber: number;
  /** Bytes of the source sent as parts (whether or not they were all stored). */
  readonly sent: number;
}

/**
 * Streams the whole parts at the head of a body straight into UploadPart requests, without
 * the temp-file round trip @tus/s3-store makes for every part (a write and a read of each
 * byte, and the read buffers' garbage). Only parts the body's declared length says will be
 * complete are sent this way, so a part is never short; if the body ends or fails early
 * anyway, the part in flight is aborted and not counted (an unfinished part is dropped on
 * the temp-file path too), and the parts before it stand.
 */
export async function sendWholeParts(source: Readable, firstPartNumber: number, options: DirectPartOptions): Promise<DirectParts> {
  const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let leftover: Buffer | undefined;
  let partNumber = firstPartNumber;
  let expected = options.expectedBytes;
  let ended = false;
  const next = async (): Promise<Buffer | undefined> => {
    if (leftover) {
      const chunk = leftover;
      leftover = undefined;
      return chunk;
    }
    const result = await chunks.next();
    ended = result.done === true;
    return ended ? undefined : result.value;
  };

  while (!ended && expected >= options.partSize) {
    const slot = await options.acquire();
    const body = new PassThrough();
    const abort = new AbortController();
    const md5 = createHash('md5');
    let digest: Buffer | undefined;
    const sentMd5 = () => (digest ??= md5.digest());
    const sent = options
      .uploadPart(body, partNumber++, options.partSize, abort.signal, sentMd5)
      .finally(() => {
        body.destroy();
        return slot.release();
      });
    // Given up by us (the body ended or failed): not stored, and not an S3 failure either.
    let givenUp = false;
    const giveUp = () => {
      givenUp = true;
      abort.abort();
    };
    options.track(sent.then(() => options.partSize, (error: unknown) => (givenUp ? 0 : Promise.reject(error))));
    try {
      leftover = await fill(body, options.partSize, next, md5);
    } catch (error) {
      // A destroyed body means the upload failed first: its own rejection reports that.
      if (!body.destroyed) giveUp();
      throw error;
    }
    if (ended) giveUp();
    expected -= options.partSize;
  }

  async function* rest(): AsyncGenerator<Buffer> {
    for (let chunk = await next(); chunk; chunk = await next()) yield chunk;
  }
  const sentParts = partNumber - firstPartNumber;
  return { rest: Readable.from(rest(), { objectMode: false }), nextPartNumber: partNumber, sent: sentParts * options.partSize };
}

/**
 * Writes `size` bytes from `next` into `body` (with backpressure, into `md5` too) and ends it; returns what
 * the last chunk had beyond them. Stops early, leaving `body` unended, when the source ends;
 * throws when the part's request went away (its own rejection says why).
 */
async function fill(body: PassThrough, size: number, next: () => Promise<Buffer | undefined>, md5: Hash): Promise<Buffer | undefined> {
  let written = 0;
  while (written < size) {
    const chunk = await next();
    if (!chunk) return undefined;
    if (body.destroyed) throw new Error('the part upload stopped');
    const take = Math.min(chunk.length, size - written);
    written += take;
    const piece = take === chunk.length ? chunk : chunk.subarray(0, take);
    md5.update(piece);
    if (!body.write(piece)) await drainedOrClosed(body);
    if (take < chunk.length) {
      body.end();
      return chunk.subarray(take);
    }
  }
  body.end();
  return undefined;
}
