import type { Readable } from 'node:stream';
import { DataStore, ERRORS, type Locker, type Upload } from '@tus/utils';
import { lockAll } from '../locking/lock-all.js';
import type { ByteRange, SeenReads, StoreAdapter } from '../stores/store-adapter.js';
import type { TusExtension, UploadLifecycle } from './extension.js';
import { hasTusStatus } from '../errors.js';
import type { TusRequest } from './request-facts.js';
import { UPSTREAM_CONCATENATION_NAME } from './upstream/tus-server.js';

/** How a guard asks for a body to be stored. */
export interface WriteOptions {
  /**
   * Keep nothing unless the stream ends without an error. The guard fails the stream at
   * its end when the body must not be kept; stores that cannot roll back exactly (S3)
   * hold the bytes until then (StoreAdapter.writeAllOrNothing).
   */
  readonly allOrNothing?: boolean;
}

/**
 * Wraps one store's write of a request body. Guards run innermost-last and may verify the
 * bytes against what the request declared and roll the upload back (see the checksum extension).
 */
export type WriteGuard = (
  write: (stream: Readable, options?: WriteOptions) => Promise<number>,
  stream: Readable,
  upload: { readonly id: string; readonly offset: number },
  request: TusRequest,
) => Promise<number>;


/**
 * The DataStore @tus/server talks to: the adapter's store plus what Tessera adds.
 * `Tus-Extension` is derived from what is registered here, never hard-coded.
 */
export class TesseraDataStore extends DataStore {
  readonly adapter: StoreAdapter;
  private readonly inner: DataStore;
  private readonly writeGuards: WriteGuard[] = [];
  private readonly lifecycles: UploadLifecycle[] = [];

  /**
   * `locker`: the upload locks, which the expiry sweep takes before it removes anything (an
   * upload being assembled or written must not be removed under the work).
   */
  constructor(
    adapter: StoreAdapter,
    private readonly locker?: Locker,
    /** Every upload the sweep should look at; the adapter's own listing by default. */
    private readonly uploadIds: () => Promise<string[]> = () => adapter.listUploadIds(),
  ) {
    super();
    this.adapter = adapter;
    this.inner = adapter.datastore;
    this.extensions = [...this.inner.extensions];
  }

  /** Adds an extension's names, write guards and lifecycle hooks (tusd's `UseIn`). */
  use(extension: TusExtension): void {
    this.extensions = [...new Set([...this.extensions, ...extension.names])];
    this.writeGuards.push(...(extension.writeGuards ?? []));
    if (extension.lifecycle) this.lifecycles.push(extension.lifecycle);
  }

  override hasExtension(name: string): boolean {
    return super.hasExtension(name === UPSTREAM_CONCATENATION_NAME ? 'concatenation' : name);
  }

  override async create(upload: Upload): Promise<Upload> {
    try {
      const created = await this.inner.create(upload);
      // The object given, which @tus/server also handed to onUploadCreate (see creationRecords).
      for (const lifecycle of this.lifecycles) await lifecycle.afterCreate?.(upload);
      return created;
    } catch (error) {
      // A creation that fails halfway (a full disk after the data file, Redis gone before the
      // record) leaves nothing behind: its URL was never given out, and an empty data file
      // without info would never be listed, so never swept.
      await this.inner.remove(upload.id).catch(() => undefined);
      for (const lifecycle of this.lifecycles) await lifecycle.afterRemove?.(upload.id).catch(() => undefined);
      throw error;
    }
  }

  override async remove(id: string): Promise<void> {
    // Only an upload the store knows may be removed: @tus/file-store would unlink any file
    // in the data dir the id names (DELETE /files/<id>.json would drop another upload's info).
    await this.inner.getUpload(id).catch((error: unknown) => {
      if (error === ERRORS.FILE_NOT_FOUND) throw error;
    });
    await this.inner.remove(id);
    await this.adapter.removeLeftovers?.(id);
    for (const lifecycle of this.lifecycles) await lifecycle.afterRemove?.(id);
  }

  /**
   * Request bodies are stored by `writeRequestBody`, with their request: a body written without
   * it would skip what the request declared (its checksum). Failing loudly keeps it that way.
   */
  override write(): Promise<number> {
    return Promise.reject(new Error('request bodies are stored with their request (writeRequestBody)'));
  }

  /**
   * Stores a request's body at `offset`, through the write guards, which see the request's facts.
   * `seen`: what `readUpload` saw, when the write follows it under the same lock, nothing changed.
   */
  async writeRequestBody(stream: Readable, id: string, offset: number, request: TusRequest, seen?: SeenReads): Promise<number> {
    try {
      return await this.guardedWrite(stream, id, offset, request, seen);
    } catch (error) {
      // @tus/server's size limiter lets every byte up to the limit through before it fails the
      // body that runs past Upload-Length (or MAX_SIZE): the 413 must keep none of it, or the
      // upload would look complete with bytes the client never meant as its end.
      const cause: unknown = stream.errored;
      if (hasTusStatus(cause) && cause.status_code === 413) {
        await this.adapter.truncate(id, offset);
        // A creation-with-upload made this upload: its URL was never given out.
        if (offset === 0 && request.req.method === 'POST') await this.remove(id);
      }
      throw error;
    }
  }

  private guardedWrite(stream: Readable, id: string, offset: number, request: TusRequest, seen: SeenReads | undefined): Promise<number> {
    const declared = declaredBodyLength(request.req);
    // Without a declared length only the end of the body tells whether it ran past the upload's
    // length; a store that cannot take bytes back (S3) must then hold the body until its end.
    const initial: WriteOptions = { allOrNothing: !this.adapter.rollsBackExactly && declared === undefined };
    type Write = (s: Readable, options?: WriteOptions) => Promise<number>;
    const base: Write = (s, options) => {
      if (options?.allOrNothing && this.adapter.writeAllOrNothing) return this.adapter.writeAllOrNothing(s, id, offset, seen);
      if (declared !== undefined && this.adapter.writeDeclared) return this.adapter.writeDeclared(s, id, offset, declared, seen);
      return this.inner.write(s, id, offset);
    };
    const guarded = this.writeGuards.reduceRight<Write>(
      // Options an outer guard asked for still hold for what an inner guard writes.
      (next, guard) => (s, options) => guard((inner, own) => next(inner, { ...options, ...own }), s, { id, offset }, request),
      base,
    );
    return guarded(stream, initial);
  }

  override async getUpload(id: string): Promise<Upload> {
    return (await this.readUpload(id)).upload;
  }

  /** An upload with what the store saw reading it, for a write that follows under the same lock. */
  async readUpload(id: string): Promise<{ upload: Upload; seen: SeenReads | undefined }> {
    const read = this.adapter.readUpload ? await this.adapter.readUpload(id) : { upload: await this.inner.getUpload(id), seen: undefined };
    // @tus/server expires by creation date alone; a finished upload must never expire, and
    // creation_date is only used for expiry, so hide it once the upload is complete.
    if (read.upload.size !== undefined && read.upload.offset === read.upload.size) read.upload.creation_date = undefined;
    return read;
  }

  override declareUploadLength(id: string, length: number): Promise<void> {
    return this.inner.declareUploadLength(id, length);
  }

  /**
   * Makes an upload's length deferred again: the PATCH that declared it failed. Both stores' declareUploadLength rewrite the
   * upload's info with the size given; without one the info says "deferred" (checked by
   * test/unit/upstream-contract.test.ts and the lifecycle tests on each store).
   */
  undeclareUploadLength(id: string): Promise<void> {
    return this.inner.declareUploadLength(id, undefined as unknown as number);
  }

  override getExpiration(): number {
    return this.inner.getExpiration();
  }

  /** An unfinished upload always may; a finished one only if some extension says so. */
  private async mayExpire(upload: Upload): Promise<boolean> {
    if (upload.size === undefined || upload.offset !== upload.size) return true;
    for (const lifecycle of this.lifecycles) if (await lifecycle.expiresWhenComplete?.(upload.id)) return true;
    return false;
  }

  read(id: string, range?: ByteRange): Readable | Promise<Readable> {
    return this.adapter.read(id, range);
  }

  /**
   * Removes unfinished uploads older than the expiry, and finished ones an extension says
   * still expire (partials no final used). The stores' own sweeps judge completion from the
   * offset recorded at creation (always 0), so they would also delete finished uploads;
   * this one reads the real offset.
   */
  override async deleteExpired(): Promise<number> {
    const expiry = this.getExpiration();
    if (expiry <= 0) return 0;
    const now = Date.now();
    let removed = 0;
    await this.adapter.sweepOrphans?.(expiry);
    const expired = async (id: string) => {
      const upload = await this.inner.getUpload(id).catch(() => undefined);
      if (!upload?.creation_date) return false;
      return now > new Date(upload.creation_date).getTime() + expiry && (await this.mayExpire(upload));
    };
    for (const id of await this.uploadIds()) {
      if (!(await expired(id))) continue;
      // Under the upload's lock, and asked again: a final being assembled (its file still empty)
      // or a partial it reads is locked by the assembly, and is done or used once it is over.
      const unlock = this.locker ? await lockAll(this.locker, id, []).catch(() => undefined) : async () => undefined;
      if (!unlock) continue; // busy past LOCK_TIMEOUT: the next sweep asks again
      try {
        if (!(await expired(id))) continue;
        await this.remove(id);
        removed += 1;
      } finally {
        await unlock();
      }
    }
    return removed;
  }
}

/** The request's declared body length (Content-Length); undefined when chunked. */
export function declaredBodyLength(req: Request): number | undefined {
  const declared = req.headers.get('content-length');
  return declared !== null && /^\d+$/.test(declared) && Number.isSafeInteger(Number(declared)) ? Number(declared) : undefined;
}
