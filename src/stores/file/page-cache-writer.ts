import fs from 'node:fs';
import { Writable } from 'node:stream';

/** Bytes written synchronously before the writer lets the event loop run other callbacks. */
const YIELD_EVERY_BYTES = 256 * 1024;
/** A synchronous write slower than this means the disk pushes back (dirty pages throttled, a slow or full device). */
const SLOW_WRITE_MS = 4;

/**
 * Writes a body into a file at `start`, each chunk as it arrives, with a synchronous write(2): on
 * a healthy disk that is a copy into the page cache (tens of microseconds per 64 KiB chunk), and it
 * saves the thread-pool round trip an fs.WriteStream pays per chunk, which bounds a Node upload to
 * about a third of what the machine can take (issue #20: 300 MB/s against nginx's 900). A write
 * that takes longer than SLOW_WRITE_MS means the kernel is making writers wait (a slow or full
 * disk): that stream, and every stream for the next second, writes asynchronously from then on,
 * so the event loop never waits for a disk. Partial writes are continued; an error (ENOSPC) fails
 * the stream after the descriptor is closed, with `bytesWritten` counting only what was stored.
 */
export class PageCacheWriter extends Writable {
  /** Until then every writer writes asynchronously: the disk pushed back recently. */
  private static slowUntil = 0;

  bytesWritten = 0;
  private readonly fd: number;
  private position: number;
  private synchronous = true;
  private sinceYield = 0;

  constructor(
    file: string,
    start: number,
    /** What counts as a slow write, ms (tests make every write slow to take the asynchronous path). */
    private readonly slowWriteMs = SLOW_WRITE_MS,
  ) {
    // Big enough that a socket's chunks arrive while one is being written asynchronously.
    super({ highWaterMark: 1024 * 1024 });
    this.fd = fs.openSync(file, 'r+');
    this.position = start;
  }

  /** Whether writers currently write synchronously (the disk has not pushed back for a second). */
  static get synchronousNow(): boolean {
    return Date.now() >= PageCacheWriter.slowUntil;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.synchronous && Date.now() >= PageCacheWriter.slowUntil) {
      const started = performance.now();
      try {
        this.writeAllSync(chunk);
      } catch (error) {
        callback(error as Error);
        return;
      }
      if (performance.now() - started > this.slowWriteMs) {
        this.synchronous = false;
        PageCacheWriter.slowUntil = Date.now() + 1000;
      }
      // Other requests get their turn between stretches of synchronous writes (a HEAD waits at
      // most one stretch, not a whole body).
      this.sinceYield += chunk.length;
      if (this.sinceYield < YIELD_EVERY_BYTES) return callback();
      this.sinceYield = 0;
      setImmediate(callback);
      return;
    }
    this.writeAllAsync(chunk, 0, callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    fs.close(this.fd, (closeError) => callback(error ?? closeError));
  }

  private writeAllSync(chunk: Buffer): void {
    let done = 0;
    while (done < chunk.length) {
      const written = fs.writeSync(this.fd, chunk, done, chunk.length - done, this.position);
      if (written === 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
      done += written;
      this.position += written;
      this.bytesWritten += written;
    }
  }

  private writeAllAsync(chunk: Buffer, done: number, callback: (error?: Error | null) => void): void {
    fs.write(this.fd, chunk, done, chunk.length - done, this.position, (error, written) => {
      if (error) return callback(error);
      if (written === 0) return callback(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }));
      this.position += written;
      this.bytesWritten += written;
      if (done + written < chunk.length) return this.writeAllAsync(chunk, done + written, callback);
      callback();
    });
  }
}
