import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ERRORS, Metadata, Upload, type Locker } from '@tus/utils';
import { isMetadataKey } from '../tus/metadata-keys.js';
import type { Authenticate } from '../auth/authenticate.js';
import { errors } from '../errors.js';
import { lockAll } from '../locking/lock-all.js';
import type { Logger } from '../logging/logger.js';
import type { PresignedParts, StoredPart } from '../stores/store-adapter.js';
import type { RateLimit } from '../limits/limits-extension.js';
import { isUploadId } from '../tus/request-target.js';
import { S3_LIMITS } from '../stores/s3/s3-limits.js';
import type { UploadCompletion } from '../tus/completion/upload-completion.js';
import { expectedSha256 } from '../tus/extensions/integrity/sha256.js';
import type { TesseraHooks } from '../tus/hooks.js';
import type { RequestFacts } from '../tus/request-facts.js';
import type { SingleState, UploadStateStore } from '../tus/state/upload-state.js';
import type { TesseraDataStore } from '../tus/tessera-datastore.js';
import { withFactsAttached } from '../tus/upstream/direct-body.js';

/** What direct uploads are built from: the same store, records, completion, locks and hooks as tus uploads. */
export interface DirectUploadParts {
  readonly store: TesseraDataStore;
  readonly parts: PresignedParts;
  readonly state: UploadStateStore;
  readonly completion: UploadCompletion;
  readonly locker: Locker;
  readonly hooks: Pick<TesseraHooks, 'namingFunction' | 'onUploadCreate'>;
  /** Authentication as on the tus endpoint; undefined = none. */
  readonly identify?: Authenticate;
  /** A request's facts as the tus endpoint makes them (client address, log). */
  readonly factsOf: (req: Request) => RequestFacts;
  /** RATE_LIMIT_PER_MINUTE: one budget per caller with the tus path. */
  readonly rateLimit?: RateLimit;
  /** The upload's tus URL (where it is read, HEAD or GET, like any upload). */
  readonly urlFor: (req: Request, id: string) => string;
  /** Removes an upload as a DELETE does, hooks included (pre-terminate may refuse, post-terminate follows); default: `remove` alone. */
  readonly terminate?: (req: Request, id: string, remove: () => Promise<void>) => Promise<void>;
  /** Told of each upload created, as a tus creation is told (post-create hooks, metrics). */
  readonly created: (req: Request, upload: Upload) => void;
  readonly limits: {
    /** MAX_SIZE; 0 = none. */
    readonly maxSize: number;
    readonly maxMetadataBytes: number;
    /** How long one part's URL is good for, seconds. */
    readonly partUrlTtlS: number;
  };
  readonly log: Logger;
}

/** A caller, and the request as hooks and completion see it (with its facts). */
interface Caller {
  readonly owner: string | undefined;
  readonly request: Request;
  readonly facts: RequestFacts;
}

const reMd5 = /^[A-Za-z0-9+/]{22}==$/;
const MIN_PART_SIZE = S3_LIMITS.minPartSize;
const MAX_PART_SIZE = S3_LIMITS.maxPartSize;

/**
 * Direct-to-S3 uploads (S3_DIRECT), as @uppy/aws-s3 drives them through a "Companion" endpoint:
 * the client asks Tessera to create an upload, to sign each part, to list and to complete; it
 * PUTs the parts straight into the bucket. Each upload is an ordinary Tessera upload (its key is
 * its id, its `.info` and lifecycle record are written as for tus), marked `direct` so it takes no
 * PATCH: HEAD and GET on the tus endpoint, expiry, DELETE, ownership, the declared `sha256`
 * (verified by reading the object back from S3 after completion), hooks and "file ready" are
 * the same. The key is always chosen here, never by the client.
 */
export class DirectUploads {
  constructor(private readonly parts: DirectUploadParts) {}

  /** POST /s3/multipart `{filename, type, metadata}` → `{key, uploadId}`. */
  async create(caller: Caller, body: unknown): Promise<{ key: string; uploadId: string }> {
    const metadata = metadataOf(body);
    if (Buffer.byteLength(Metadata.stringify(metadata)) > this.parts.limits.maxMetadataBytes) throw errors.metadataTooLarge(this.parts.limits.maxMetadataBytes);
    // A malformed declared digest is refused before anything exists (400), as on POST /files.
    expectedSha256(metadata);
    const request = withFactsAttached({ req: caller.request, facts: caller.facts });
    const { namingFunction, onUploadCreate } = this.parts.hooks;
    const id = namingFunction ? await namingFunction(request, metadata) : randomBytes(16).toString('hex');
    const upload = new Upload({ id, offset: 0, size: undefined, metadata, creation_date: new Date().toISOString() });
    const changes = (await onUploadCreate?.(request, upload)) ?? {};
    if (changes.metadata) upload.metadata = changes.metadata;
    // The record first: the store's creation steps find it (as for a final), and a crash after
    // it leaves a record without data, which reads as gone.
    await this.parts.state.update(id, () => ({ kind: 'single', status: 'receiving', direct: true, createdAt: Date.now(), ...(caller.owner === undefined ? {} : { owner: caller.owner }) }));
    try {
      await this.parts.store.create(upload);
    } catch (error) {
      await this.parts.state.delete(id);
      throw error;
    }
    caller.facts.log.info({ uploadId: id }, 'direct upload created');
    this.parts.created(request, upload);
    return { key: id, uploadId: await this.parts.parts.multipartUploadOf(id) };
  }

  /**
   * GET /s3/multipart/:uploadId/:partNumber?key=[&md5=][&size=] → `{url, expires}`. With MAX_SIZE, a
   * part is signed only while the parts S3 holds leave room, and never a part number beyond what
   * an upload within MAX_SIZE can have (every part but the last is at least 5 MiB); `size`, when
   * given, is signed into the URL (S3 refuses another length) and must fit too.
   */
  async signPart(caller: Caller, key: string, multipartUpload: string, partNumber: string, md5: string | undefined, size: string | undefined): Promise<{ url: string; expires: number }> {
    const number = Number(partNumber);
    if (!/^\d{1,5}$/.test(partNumber) || number < 1 || number > 10_000) throw errors.directBadRequest('The part number must be 1 to 10000');
    if (md5 !== undefined && !reMd5.test(md5)) throw errors.directBadRequest('md5 must be the base64 MD5 of the part (24 characters)');
    if (size !== undefined && (!/^\d{1,13}$/.test(size) || Number(size) > MAX_PART_SIZE)) throw errors.directBadRequest(`size must be the part's length in bytes, at most ${MAX_PART_SIZE}`);
    await this.receivingUpload(caller, key);
    const { maxSize } = this.parts.limits;
    const held = await this.parts.parts.listParts(key, multipartUpload);
    if (maxSize > 0) {
      const mostParts = Math.max(1, Math.ceil(maxSize / MIN_PART_SIZE));
      if (number > mostParts) throw errors.directTooLarge(`An upload within MAX_SIZE (${maxSize} bytes) has at most ${mostParts} parts`);
      const others = held.filter((part) => part.partNumber !== number).reduce((sum, part) => sum + part.size, 0);
      if (others + (size === undefined ? 1 : Number(size)) > maxSize) throw errors.directTooLarge(`The parts S3 holds leave no room for this one within MAX_SIZE (${maxSize} bytes)`);
    }
    const expires = this.parts.limits.partUrlTtlS;
    const url = await this.parts.parts.signPart(key, multipartUpload, number, {
      ...(md5 ? { contentMd5: md5 } : {}),
      ...(size !== undefined ? { contentLength: Number(size) } : {}),
      expiresInS: expires,
    });
    return { url, expires };
  }

  /** GET /s3/multipart/:uploadId?key= → the parts S3 holds. */
  async listParts(caller: Caller, key: string, multipartUpload: string): Promise<{ PartNumber: number; ETag: string; Size: number }[]> {
    await this.receivingUpload(caller, key);
    return (await this.parts.parts.listParts(key, multipartUpload)).map(asListed);
  }

  /**
   * POST /s3/multipart/:uploadId/complete?key= `{parts: [{PartNumber, ETag}]}` → `{location, key}`.
   * The multipart upload is completed under the upload's lock from exactly the parts S3 holds,
   * then the upload is settled as any other (UploadCompletion: the declared sha256 checked
   * against the object read back from S3, pre-finish, "file ready" once).
   */
  async complete(caller: Caller, key: string, multipartUpload: string, body: unknown): Promise<{ location: string; key: string }> {
    const given = partsOf(body);
    await this.ownUpload(caller, key);
    const unlock = await lockAll(this.parts.locker, key, []);
    try {
      const record = await this.parts.state.get(key);
      // Still receiving: completed here. A completion that got here first (on any instance) may
      // have completed S3's multipart upload and not yet settled the record: nothing to complete
      // then, and the upload is settled below like any other.
      if (record?.kind === 'single' && record.status === 'receiving') {
        try {
          await this.parts.parts.complete(key, multipartUpload, given, this.parts.limits.maxSize);
        } catch (error) {
          if (error === ERRORS.ERR_MAX_SIZE_EXCEEDED) {
            // Its bytes can never be accepted: it goes, as a tus upload past MAX_SIZE would never be stored.
            await this.parts.store.remove(key);
          }
          throw error;
        }
      }
    } finally {
      await unlock();
    }
    const request = withFactsAttached({ req: caller.request, facts: { ...caller.facts, uploadId: key } });
    await this.parts.completion.finish(request, key, { completedNow: true });
    return { location: this.parts.urlFor(caller.request, key), key };
  }

  /** DELETE /s3/multipart/:uploadId?key= → the upload and its parts are gone. */
  async abort(caller: Caller, key: string, multipartUpload: string): Promise<void> {
    await this.receivingUpload(caller, key);
    // Still in progress in S3, and the one named (a mismatch is 404, a completed one gone).
    await this.parts.parts.listParts(key, multipartUpload);
    const remove = async () => {
      const unlock = await lockAll(this.parts.locker, key, []);
      try {
        // Again under the lock: a completion may have finished it meanwhile, and a done file stays.
        await this.receivingUpload(caller, key);
        await this.parts.store.remove(key);
      } finally {
        await unlock();
      }
    };
    const request = withFactsAttached({ req: caller.request, facts: { ...caller.facts, uploadId: key } });
    await (this.parts.terminate ? this.parts.terminate(request, key, remove) : remove());
    caller.facts.log.info({ uploadId: key }, 'direct upload aborted');
  }

  /** The caller's direct upload `key`; anything else (unknown, someone else's, a tus upload) is the same 404. */
  private async ownUpload(caller: Caller, key: string): Promise<SingleState> {
    // A key that is no upload id names no upload (never a record, a folder or another upload's object).
    if (!isUploadId(key)) throw errors.directUploadUnknown();
    const record = await this.parts.state.get(key);
    if (record?.kind !== 'single' || record.direct !== true || record.owner !== caller.owner) throw errors.directUploadUnknown();
    return record;
  }

  /** The caller's direct upload `key`, still taking parts. */
  private async receivingUpload(caller: Caller, key: string): Promise<SingleState> {
    const record = await this.ownUpload(caller, key);
    if (record.status !== 'receiving') throw errors.directUploadUnknown();
    return record;
  }
}

/** Who calls: authenticated as on the tus endpoint (401 without valid credentials when authentication is on). */
export async function callerOf(parts: Pick<DirectUploadParts, 'identify' | 'factsOf' | 'rateLimit'>, node: IncomingMessage, url: URL): Promise<Caller> {
  const headers = new Headers();
  for (const [name, value] of Object.entries(node.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  // The Node request rides along as @tus/server's requests carry it (srvx), so facts are made the same way.
  const request = Object.assign(new Request(url, { method: node.method ?? 'GET', headers }), { runtime: { node: { req: node } } });
  const principal = parts.identify ? await parts.identify(request).catch(() => undefined) : undefined;
  if (parts.identify && !principal) throw errors.unauthorized();
  const facts = { ...parts.factsOf(request), ...(principal ? { owner: principal.owner } : {}) };
  await parts.rateLimit?.(facts);
  return { owner: principal?.owner, request, facts };
}

/** Uppy's `{filename, type, metadata}` as tus metadata: strings only, keys without spaces or commas. */
function metadataOf(body: unknown): Record<string, string> {
  if (typeof body !== 'object' || body === null) throw errors.directBadRequest('The body must be a JSON object {filename, type, metadata}');
  const { filename, type, metadata = {} } = body as { filename?: unknown; type?: unknown; metadata?: unknown };
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw errors.directBadRequest('metadata must be a JSON object');
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(metadata)) {
    if (value === null || value === undefined) continue;
    // As a tus client's Upload-Metadata keys must be (they come back in HEAD answers' headers).
    if (!isMetadataKey(name)) throw errors.directBadRequest(`Metadata key "${name.slice(0, 40)}" is not printable ASCII without spaces or commas`);
    if (typeof value === 'object') throw errors.directBadRequest(`Metadata value of "${name.slice(0, 40)}" must be a string, a number or a boolean`);
    result[name] = String(value);
  }
  // As tus clients name them (tus-js-client, Uppy's tus plugin): the download's file name and type.
  if (typeof filename === 'string' && filename !== '') result.filename ??= filename;
  if (typeof type === 'string' && type !== '') result.filetype ??= type;
  return result;
}

/** The `{parts: [{PartNumber, ETag}]}` of a completion. */
function partsOf(body: unknown): { partNumber: number; etag: string }[] {
  const parts = (body as { parts?: unknown } | null)?.parts;
  if (!Array.isArray(parts)) throw errors.directBadRequest('The body must be {"parts": [{"PartNumber", "ETag"}, ...]}');
  return parts.map((part: unknown) => {
    const { PartNumber, ETag } = (part ?? {}) as { PartNumber?: unknown; ETag?: unknown };
    const partNumber = typeof PartNumber === 'string' ? Number(PartNumber) : PartNumber;
    if (typeof partNumber !== 'number' || !Number.isInteger(partNumber) || typeof ETag !== 'string') {
      throw errors.directBadRequest('Each part needs a PartNumber and an ETag');
    }
    return { partNumber, etag: ETag };
  });
}

const asListed = (part: StoredPart) => ({ PartNumber: part.partNumber, ETag: part.etag, Size: part.size });
