import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { FileStore } from '@tus/file-store';
import { ERRORS, FileKvStore, isPathInsideDirectory, type KvStore, type Upload } from '@tus/utils';
import type { StoreAdapter } from './store-adapter.js';

export interface FileStoreAdapterOptions {
  readonly directory: string;
  readonly expiryMs: number;
  /** Where upload info lives; a file next to the data by default, Redis in shared mode. */
  readonly infoStore?: KvStore<Upload>;
}

/** Local-disk storage through @tus/file-store (the embedded default). */
export class FileStoreAdapter implements StoreAdapter {
  readonly kind = 'file' as const;
  readonly datastore: FileStore;
  private readonly infoStore: KvStore<Upload>;

  constructor(private readonly options: FileStoreAdapterOptions) {
    fs.mkdirSync(options.directory, { recursive: true });
    this.infoStore = options.infoStore ?? new FileKvStore(options.directory);
    this.datastore = new FileStore({
      directory: options.directory,
      configstore: this.infoStore,
      expirationPeriodInMilliseconds: options.expiryMs,
    });
  }

  async listUploadIds(): Promise<string[]> {
    if (!this.infoStore.list) return [];
    return this.infoStore.list();
  }

  async truncate(id: string, offset: number): Promise<void> {
    await fsp.truncate(this.pathOf(id), offset);
  }

  read(id: string): fs.ReadStream {
    // Large reads: assembly and verification stream whole files.
    return fs.createReadStream(this.pathOf(id), { highWaterMark: 1024 * 1024 });
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
