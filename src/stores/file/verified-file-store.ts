import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { FileStore } from '@tus/file-store';
import { ERRORS, isPathInsideDirectory, type Upload } from '@tus/utils';
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
    return super.write(readable, id, offset);
  }

  /** Keeps the chunk only if the stream ends without an error (the guard's verdict). */
  async writeAllOrNothing(readable: Readable, id: string, offset: number): Promise<number> {
    await this.dropUnverified(id);
    await this.pending.mark(id, offset);
    try {
      const written = await super.write(readable, id, offset);
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
