import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { FileStore } from '@tus/file-store';
import { ERRORS, isPathInsideDirectory, type Upload } from '@tus/utils';
import { PageCacheWriter } from './page-cache-writer.js';
import { PendingVerification } from './pending-verification.js';

type FileStoreOptions = ConstructorParameters<typeof FileStore>[0];

/**
 * @tus/file-store whose checksummed chunks are all-or-nothing even across a crash. The
 * checksum guard rolls a failing chunk back itself, but a process killed mid-chunk leaves
 * bytes on disk that were never verified, and the stock store would count them in the
 * offset. Here they are never reported, and are dropped before the upload is written again
 * (writes hold the upload's lock, so a note found then was left by a process that died).
 */
export class VerifiedFileStore extends FileStore {
  private readonly pending: PendingVerification;

  /** `soleWriter`: this process alone writes the directory (embedded mode). */
  constructor(options: FileStoreOptions & { directory: string; soleWriter: boolean }) {
    super(options);
    this.pending = new PendingVerification(options.directory, options.soleWriter);
  }

  override async getUpload(id: string): Promise<Upload> {
    const upload = await super.getUpload(id);
    const unverifiedFrom = await this.pending.offsetOf(id);
    if (unverifiedFrom !== undefined && unverifiedFrom < upload.offset) upload.offset = unverifiedFrom;
    return upload;
  }

  override async write(readable: Readable, id: string, offset: number): Promise<number> {
    await this.dropUnverified(id);
    return this.writeSettled(readable, id, offset);
  }

  /**
   * @tus/file-store's write, through PageCacheWriter (synchronous writes into the page cache while
   * the disk keeps up), except that a failed write rejects only once the file is closed.
   * Upstream rejects as soon as the body fails, while writes already handed to the thread pool
   * still land: a rollback (truncate) done at once would be overwritten by them.
   */
  private async writeSettled(readable: Readable, id: string, offset: number): Promise<number> {
    const file = path.join(this.directory, id);
    if (!isPathInsideDirectory(this.directory, file)) throw ERRORS.FILE_NOT_FOUND;
    let target: PageCacheWriter;
    try {
      target = new PageCacheWriter(file, offset);
    } catch {
      throw ERRORS.FILE_WRITE_ERROR;
    }
    const closed = new Promise<void>((resolve) => target.once('close', resolve));
    try {
      await pipeline(readable, target);
    } catch {
      await closed;
      throw ERRORS.FILE_WRITE_ERROR;
    }
    return offset + target.bytesWritten;
  }

  /** Keeps the chunk only if the stream ends without an error (the guard's verdict). */
  async writeAllOrNothing(readable: Readable, id: string, offset: number): Promise<number> {
    await this.dropUnverified(id);
    await this.pending.mark(id, offset);
    try {
      const written = await this.writeSettled(readable, id, offset);
      await this.pending.clear(id);
      return written;
    } catch (error) {
      await this.truncate(id, offset);
      await this.pending.clear(id);
      throw error;
    }
  }

  override async remove(id: string): Promise<void> {
    await super.remove(id);
    await this.pending.clear(id);
  }

  /** Drops every stored byte at and after `offset`. */
  async truncate(id: string, offset: number): Promise<void> {
    const file = path.join(this.directory, id);
    if (!isPathInsideDirectory(this.directory, file)) throw ERRORS.FILE_NOT_FOUND;
    await fsp.truncate(file, offset);
  }

  private async dropUnverified(id: string): Promise<void> {
    const from = await this.pending.offsetOf(id);
    if (from === undefined) return;
    await this.truncate(id, from);
    await this.pending.clear(id);
  }
}
