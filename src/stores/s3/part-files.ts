import { createHash, randomBytes, type Hash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { isProcessAlive } from '../../os/process-alive.js';

/** One part-sized piece of a body in a local temp file. */
export interface PartFile {
  readonly path: string;
  readonly size: number;
  /** MD5 of the bytes, taken as they were written: sent as Content-MD5, so S3 refuses a part damaged on the way. */
  readonly md5: Buffer;
}

export interface PartFileHooks {
  /** Before a new part file is started (e.g. to wait for an upload slot). */
  beforePart?(): Promise<void>;
  /** A part file is complete and closed; the last one may be short. */
  onPart(part: PartFile): void;
  /** The part being written was dropped (the body failed) and its file removed. */
  onAbandon?(path: string | undefined): void;
}

/** Bytes a part file's write stream buffers before it waits; writes go out in batches. */
const WRITE_BUFFER = 1024 * 1024;

/**
 * Cuts a body into temp files of `partSize` bytes. Does what @tus/utils' StreamSplitter
 * does, but through a buffered write stream (batched writev) instead of one awaited
 * appendFile per network chunk, which on a loaded machine cost more CPU than the upload
 * to S3 itself. On an error the file being written is removed.
 */
export class PartFileSplitter extends Writable {
  private current: { path: string; stream: fs.WriteStream; size: number; md5: Hash } | undefined;
  /** A temp-file write failed (e.g. the disk is full). */
  private failure: Error | undefined;

  constructor(
    private readonly partSize: number,
    private readonly hooks: PartFileHooks,
  ) {
    super({ highWaterMark: WRITE_BUFFER });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.take(chunk).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    (this.current ? this.closePart() : Promise.resolve()).then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const dropped = this.current;
    this.current = undefined;
    if (!dropped) return callback(error);
    dropped.stream.destroy();
    const removed = fsp.rm(dropped.path, { force: true }).catch(() => undefined);
    removed.then(() => {
      this.hooks.onAbandon?.(dropped.path);
      callback(error);
    });
  }

  private async take(chunk: Buffer): Promise<void> {
    let rest = chunk;
    while (rest.length > 0) {
      if (this.failure) throw this.failure;
      // Destroyed meanwhile (the body or an upload failed): the rest has nowhere to go.
      if (this.destroyed) return;
      const current = this.current ?? (await this.openPart());
      const take = Math.min(this.partSize - current.size, rest.length);
      const piece = rest.subarray(0, take);
      current.md5.update(piece);
      const room = current.stream.write(piece);
      current.size += take;
      rest = rest.subarray(take);
      if (current.size === this.partSize) await this.closePart();
      else if (!room) await drainedOrClosed(current.stream);
    }
  }

  private async openPart(): Promise<NonNullable<PartFileSplitter['current']>> {
    await this.hooks.beforePart?.();
    if (this.destroyed) {
      this.hooks.onAbandon?.(undefined);
      throw new Error('the body ended in an error');
    }
    const file = path.join(os.tmpdir(), `${PART_FILE_PREFIX}${process.pid}-${randomBytes(8).toString('hex')}`);
    const stream = fs.createWriteStream(file, { highWaterMark: WRITE_BUFFER });
    stream.on('error', (error) => {
      this.failure ??= error;
    });
    this.current = { path: file, stream, size: 0, md5: createHash('md5') };
    return this.current;
  }

  private async closePart(): Promise<void> {
    const done = this.current;
    if (!done) return;
    done.stream.end();
    await drainedOrClosed(done.stream, 'close');
    if (this.failure) throw this.failure;
    // Destroyed while closing: _destroy has dropped this file already.
    if (this.current !== done) return;
    this.current = undefined;
    this.hooks.onPart({ path: done.path, size: done.size, md5: done.md5.digest() });
  }
}

/** Resolves on `event`, or when the stream closes first (destroyed), whichever comes first. */
export function drainedOrClosed(stream: Writable, event: 'drain' | 'close' = 'drain'): Promise<void> {
  return new Promise((resolve) => {
    if (stream.closed) return resolve();
    const done = () => {
      stream.off(event, done);
      stream.off('close', done);
      resolve();
    };
    stream.on(event, done);
    stream.on('close', done);
  });
}

/** Part files are named after the process writing them, so a dead process's can be told apart. */
const PART_FILE_PREFIX = 'tessera-s3-part-';
const rePartFile = /^tessera-s3-part-(\d+)-[0-9a-f]+$/;

/**
 * Removes the part files of processes that are gone: a process killed mid-PATCH (kill -9)
 * leaves its staged parts in the temp dir, and nothing else would ever remove them. Files of
 * running processes (other instances on this machine) are left alone. Returns how many went.
 */
export async function sweepDeadPartFiles(directory = os.tmpdir()): Promise<number> {
  let removed = 0;
  for (const name of await fsp.readdir(directory).catch(() => [] as string[])) {
    const pid = Number(rePartFile.exec(name)?.[1]);
    if (!pid || isProcessAlive(pid)) continue;
    await fsp.rm(path.join(directory, name), { force: true });
    removed += 1;
  }
  return removed;
}
