import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { createHash, randomUUID } from 'node:crypto';
import { ERRORS, isPathInsideDirectory, type KvStore, type Upload } from '@tus/utils';
import { AtomicInfoStore } from './atomic-info-store.js';
import type { ByteRange, StoreAdapter } from '../store-adapter.js';
import { CachedInfoStore } from './cached-info-store.js';
import { VerifiedFileStore } from './verified-file-store.js';

// Big enough that per-chunk overhead vanishes, small enough to keep memory flat.
const ASSEMBLY_CHUNK = 4 * 1024 * 1024;
// Upload info of this many recently used uploads stays in memory (a few hundred bytes each).
const INFO_CACHE_ENTRIES = 10_000;
// In shared mode an assembly temp untouched this long belongs to a dead instance. A running
// assembly writes every few milliseconds; a younger temp may be another instance's assembly
// of the same final (a lock lost with Redis's data), which removing would break.
const STALE_ASSEMBLY_MS = 10 * 60 * 1000;

export interface FileStoreAdapterOptions {
  readonly directory: string;
  readonly expiryMs: number;
  /**
   * This process is the directory's only writer (embedded mode): upload info and the notes of
   * unverified chunks are then remembered in memory. In shared mode several instances write
   * one directory (a shared volume) and every read goes to it.
   */
  readonly soleWriter: boolean;
}

/** Local-disk storage through @tus/file-store (the embedded default). */
export class FileStoreAdapter implements StoreAdapter {
  readonly rollsBackExactly = true;
  readonly kind = 'file' as const;
  readonly datastore: VerifiedFileStore;
  private readonly infoStore: KvStore<Upload>;

  /** Where finals are assembled before they are renamed into place. */
  private readonly assemblyDir: string;
  /** Temp files of this process's running assemblies: never stale. */
  private readonly runningAssemblies = new Set<string>();

  constructor(private readonly options: FileStoreAdapterOptions) {
    fs.mkdirSync(options.directory, { recursive: true });
    this.assemblyDir = path.join(options.directory, '.tessera-assembly');
    fs.mkdirSync(this.assemblyDir, { recursive: true });
    // Beside the data in both modes: losing Redis (shared mode) must not lose an upload.
    const persisted = new AtomicInfoStore(options.directory);
    this.infoStore = options.soleWriter ? new CachedInfoStore(persisted, INFO_CACHE_ENTRIES) : persisted;
    this.datastore = new VerifiedFileStore({
      directory: options.directory,
      configstore: this.infoStore,
      expirationPeriodInMilliseconds: options.expiryMs,
      soleWriter: options.soleWriter,
    });
  }

  async listUploadIds(): Promise<string[]> {
    if (!this.infoStore.list) return [];
    return this.infoStore.list();
  }

  truncate(id: string, offset: number): Promise<void> {
    return this.datastore.truncate(id, offset);
  }

  writeAllOrNothing(stream: Readable, id: string, offset: number): Promise<number> {
    return this.datastore.writeAllOrNothing(stream, id, offset);
  }

  /**
   * Opened before it is returned: a download that has started reads the file to its end even if
   * the upload is deleted meanwhile (the open file outlives its name), instead of failing midway.
   */
  async read(id: string, range?: ByteRange): Promise<Readable> {
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(this.pathOf(id), 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw ERRORS.FILE_NOT_FOUND;
      throw error;
    }
    // Large reads: assembly and verification stream whole files.
    return handle.createReadStream({ highWaterMark: 1024 * 1024, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  async modifiedAt(id: string): Promise<Date> {
    try {
      return (await fsp.stat(this.pathOf(id))).mtime;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw ERRORS.FILE_NOT_FOUND;
      throw error;
    }
  }

  /**
   * Joins complete partials into the final's file in one pass, hashing as it goes. Reading,
   * hashing and writing overlap (reads run ahead in the thread pool, one write is in flight
   * while the next chunk is hashed on the main thread), like `cat | tee | openssl` does with
   * three processes. The bytes go to a temp file renamed over the final's at the end: a reader
   * never sees a final half assembled, a crash leaves the final as it was, and a second
   * assembly (a lock lost with Redis's data) can only replace it with the same bytes whole.
   */
  async concatenate(finalId: string, partialIds: readonly string[]): Promise<{ bytes: number; sha256: string }> {
    const hash = createHash('sha256');
    const finalPath = this.pathOf(finalId);
    await this.removeStaleAssemblies(finalId, 'stale only');
    // In a dot directory of the data dir (same file system, so the rename is atomic): never
    // listed as an upload, never addressable by a request.
    const temp = path.join(this.assemblyDir, `${finalId}.${randomUUID()}`);
    this.runningAssemblies.add(temp);
    try {
      return await this.concatenateInto(temp, finalPath, partialIds, hash);
    } finally {
      this.runningAssemblies.delete(temp);
    }
  }

  private async concatenateInto(
    temp: string,
    finalPath: string,
    partialIds: readonly string[],
    hash: ReturnType<typeof createHash>,
  ): Promise<{ bytes: number; sha256: string }> {
    const target = await fsp.open(temp, 'w');
    let bytes = 0;
    let inFlight: Promise<unknown> = Promise.resolve();
    try {
      for (const id of partialIds) {
        const source = fs.createReadStream(this.pathOf(id), { highWaterMark: ASSEMBLY_CHUNK });
        for await (const chunk of source as AsyncIterable<Buffer>) {
          hash.update(chunk);
          await inFlight;
          inFlight = writeWhole(target, chunk, bytes);
          bytes += chunk.length;
        }
      }
      await inFlight;
      await target.close();
      await fsp.rename(temp, finalPath);
    } catch (error) {
      await inFlight.catch(() => undefined);
      await target.close().catch(() => undefined);
      await fsp.rm(temp, { force: true });
      throw error;
    }
    return { bytes, sha256: hash.digest('hex') };
  }

  removeLeftovers(id: string): Promise<void> {
    return this.removeStaleAssemblies(id, 'all');
  }

  /**
   * Temp files of this final's assemblies that a crash left behind. Before an assembly, only
   * those no one can still be writing: not this process's, and in shared mode not recently
   * written (see STALE_ASSEMBLY_MS). When the upload is removed, all of them.
   */
  private async removeStaleAssemblies(finalId: string, which: 'stale only' | 'all'): Promise<void> {
    for (const name of await fsp.readdir(this.assemblyDir)) {
      if (!name.startsWith(`${finalId}.`)) continue;
      const temp = path.join(this.assemblyDir, name);
      if (which === 'stale only' && !(await this.isStaleAssembly(temp))) continue;
      await fsp.rm(temp, { force: true });
    }
  }

  private async isStaleAssembly(temp: string): Promise<boolean> {
    if (this.runningAssemblies.has(temp)) return false;
    if (this.options.soleWriter) return true;
    const stats = await fsp.stat(temp).catch(() => undefined);
    return stats !== undefined && Date.now() - stats.mtimeMs > STALE_ASSEMBLY_MS;
  }

  private pathOf(id: string): string {
    const file = path.join(this.options.directory, id);
    if (!isPathInsideDirectory(this.options.directory, file)) throw ERRORS.FILE_NOT_FOUND;
    return file;
  }

  async checkWritable(): Promise<void> {
    const probe = path.join(this.options.directory, `.ready-${randomUUID()}`);
    // One real byte: an empty file needs no data block, so a full disk would still pass.
    try {
      await fsp.writeFile(probe, 'x');
    } finally {
      await fsp.unlink(probe).catch(() => undefined);
    }
  }
}

/**
 * Writes all of `chunk` at `position`: write(2) may store only part of it (a file system about to
 * fill up), and the rest must follow or the write fail, never be counted as written.
 */
async function writeWhole(target: fsp.FileHandle, chunk: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < chunk.length) {
    const { bytesWritten } = await target.write(chunk, done, chunk.length - done, position + done);
    if (bytesWritten === 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    done += bytesWritten;
  }
}
