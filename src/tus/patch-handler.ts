import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { ERRORS, type Locker, type Upload } from '@tus/utils';
import { errors } from '../errors.js';
import { allBytesStored } from './completion/lifecycle.js';
import type { UploadCompletion } from './completion/upload-completion.js';
import { createDigester } from './extensions/checksum/algorithms.js';
import type { TusHooks } from './hooks.js';
import type { SeenReads } from '../stores/store-adapter.js';
import { parseUploadChecksum, type DeclaredChecksum } from './extensions/checksum/checksum-header.js';
import { declaredBodyLength, type TesseraDataStore } from './tessera-datastore.js';
import { withFactsAttached, writeRequestBody } from './upstream/direct-body.js';
import type { Terminal, TusCall } from './upstream/handler-layers.js';

export interface PatchHandlerParts {
  readonly store: TesseraDataStore;
  readonly locker: Locker;
  readonly completion: UploadCompletion;
  /** MAX_SIZE; 0 = none. */
  readonly maxSize: number;
  readonly hooks: Pick<TusHooks, 'onIncomingRequest'>;
  /** Tells @tus/server's listeners (POST_FINISH) that an upload's last byte was stored. */
  readonly finished: (req: Request, res: Response, upload: Upload) => void;
  /** @tus/server's POST_RECEIVE progress while a body of `upload` arrives, if anyone listens. */
  readonly progress: (upload: Upload, req: Request) => ((offset: number) => void) | undefined;
}

const reDigits = /^\d+$/;

/**
 * Where an IETF draft append that completes its upload says the upload ends: set only by the draft
 * adapter (src/ietf), which removes it from any request a client sends.
 */
export const DRAFT_ENDS_AT = 'tessera-draft-ends-at';

/**
 * PATCH, Tessera's own: it replaces @tus/server's PatchHandler step, whose order contradicted
 * two guarantees (it declared a PATCH's Upload-Length before checking that the body fits, so a
 * refused body left the length declared; and it re-ran completion for an empty PATCH at the
 * end). In order, every fact passed explicitly:
 *
 * 1. the upload is the one the path names (the request's facts), Upload-Offset and Content-Type
 *    are present (their form was checked by @tus/server's header validation);
 * 2. under the upload's lock: it exists and has not expired (404/410), the offset matches (409),
 *    a declared Upload-Length is valid and the declared body fits it and MAX_SIZE (400/413),
 *    all before anything changes;
 * 3. the body is stored through the store's write guards with the request's facts (checksum,
 *    length, trailers); a failure takes back everything this request changed, the declared
 *    length included;
 * 4. after the lock: an upload whose last byte was stored is settled (verified, announced)
 *    by UploadCompletion, which takes the lock again for it.
 */
export function patchHandler(parts: PatchHandlerParts): Terminal {
  return async (call) => {
    try {
      return await patch(parts, call);
    } catch (error) {
      // As @tus/server's handlers do: stop reading the body of a request answered with an error.
      if (!call.context.signal.aborted) call.context.abort();
      throw error;
    }
  };
}

async function patch(parts: PatchHandlerParts, call: TusCall): Promise<Response> {
  const { req, facts, context, headers } = call;
  const { store } = parts;
  const id = facts.uploadId;
  if (!id) throw ERRORS.FILE_NOT_FOUND;
  const offsetHeader = req.headers.get('upload-offset');
  if (offsetHeader === null) throw ERRORS.MISSING_OFFSET;
  const offset = Number(offsetHeader);
  if (req.headers.get('content-type') === null) throw ERRORS.INVALID_CONTENT_TYPE;
  await parts.hooks.onIncomingRequest?.(req, id);

  const lock = parts.locker.newLock(id);
  await lock.lock(context.signal, () => context.cancel());
  let upload: Upload;
  let resent: boolean;
  try {
    const read = await store.readUpload(id);
    upload = read.upload;
    if (hasExpired(store, upload)) throw ERRORS.FILE_NO_LONGER_EXISTS;
    if (upload.offset !== offset) throw errors.offsetMismatch(upload.offset);
    // A PATCH at the end of an upload whose bytes are all stored (a client re-sending its last,
    // empty chunk, or resuming after a crash): its body must be empty, and nothing is stored
    // (the store is not even asked: S3 has completed the object); the upload is settled below
    // if it is not yet. However the empty body is framed: Content-Length: 0, chunked, or none.
    // An IETF draft append that completes the upload names where it ends (DRAFT_ENDS_AT): the end it already has is no new length.
    const endsAt = req.headers.get(DRAFT_ENDS_AT);
    resent = allBytesStored(upload) && req.headers.get('upload-length') === null && (endsAt === null || endsAt === String(upload.size));
    if (resent) await receiveEmptyBody(call);
    else upload.offset = await storeBody(parts, call, upload, read.seen);
  } finally {
    await lock.unlock();
  }

  headers.set('Upload-Offset', String(upload.offset));
  const completedNow = !resent && allBytesStored(upload);
  let status = 204;
  let body: string | null = null;
  if (allBytesStored(upload)) {
    // Answered as the PATCH that completed it was: 204 for a verified file, 460 for a failed one;
    // "file ready" still happens once (UploadCompletion).
    // With its facts: the hooks it reaches (HTTP post-finish) say who finished the file, from where.
    const finishing = withFactsAttached({ req, facts });
    const outcome = completedNow ? await parts.completion.onUploadFinish(finishing, upload) : await parts.completion.finish(finishing, id);
    if (outcome?.status_code) status = outcome.status_code;
    if (outcome?.body) body = outcome.body;
    for (const [name, value] of Object.entries(outcome?.headers ?? {})) headers.set(name, String(value));
  } else {
    const expires = expiresAt(store, upload);
    if (expires) headers.set('Upload-Expires', expires);
  }
  const res = new Response(status === 204 ? null : body, { status, headers });
  if (completedNow) parts.finished(req, res, upload);
  return res;
}

/**
 * Checks and declares Upload-Length (if sent), then stores the body; returns the new offset.
 * `seen`: what reading the upload saw, which the store's write starts from (S3).
 */
async function storeBody(parts: PatchHandlerParts, call: TusCall, upload: Upload, seen: SeenReads | undefined): Promise<number> {
  const { req, facts, context } = call;
  const { store } = parts;
  const bodyLength = declaredBodyLength(req);
  const declaring = uploadLengthToDeclare(parts, req, upload, bodyLength);
  if (declaring !== undefined) {
    await store.declareUploadLength(upload.id, declaring);
    upload.size = declaring;
  }
  try {
    // A declared length changed what was read: the write reads again.
    const unchanged = declaring === undefined ? seen : undefined;
    const limit = maxBodySize(parts, upload, bodyLength);
    return await writeRequestBody(store, { req, facts }, upload, limit, context, unchanged, parts.progress(upload, withFactsAttached({ req, facts })));
  } catch (error) {
    // The request that declared the length failed: the length goes with it (a length left
    // declared would refuse the client's retry, or complete the upload at a length nobody confirmed).
    if (declaring !== undefined) await store.undeclareUploadLength(upload.id);
    throw error;
  }
}

/** The Upload-Length this PATCH declares, checked against the upload, its body and MAX_SIZE. */
function uploadLengthToDeclare(parts: PatchHandlerParts, req: Request, upload: Upload, bodyLength: number | undefined): number | undefined {
  const endsAt = req.headers.get(DRAFT_ENDS_AT);
  if (endsAt !== null && req.headers.get('upload-length') === null) {
    // Declared if the upload has no length yet; the same length again declares nothing; another is 400.
    if (!reDigits.test(endsAt)) throw ERRORS.INVALID_LENGTH;
    if (upload.size !== undefined) {
      if (Number(endsAt) !== upload.size) throw ERRORS.INVALID_LENGTH;
      return undefined;
    }
  }
  const header = req.headers.get('upload-length') ?? endsAt;
  if (header === null) return undefined;
  if (!parts.store.hasExtension('creation-defer-length')) throw ERRORS.UNSUPPORTED_CREATION_DEFER_LENGTH_EXTENSION;
  const length = Number(header);
  if (!reDigits.test(header) || upload.size !== undefined || length < upload.offset) throw ERRORS.INVALID_LENGTH;
  if (parts.maxSize > 0 && length > parts.maxSize) throw ERRORS.ERR_MAX_SIZE_EXCEEDED;
  if (bodyLength !== undefined && upload.offset + bodyLength > length) throw ERRORS.ERR_SIZE_EXCEEDED;
  return length;
}

/**
 * How many bytes the body may bring (the size limiter fails it past that, with 413): what is
 * left of the upload's length, or of MAX_SIZE while the length is deferred. A declared body
 * that cannot fit is refused before a byte is read.
 */
function maxBodySize(parts: PatchHandlerParts, upload: Upload, bodyLength: number | undefined): number {
  const limit = upload.size ?? (parts.maxSize > 0 ? parts.maxSize : undefined);
  if (limit === undefined) return Number.MAX_SAFE_INTEGER;
  if (bodyLength !== undefined && upload.offset + bodyLength > limit) throw ERRORS.ERR_SIZE_EXCEEDED;
  return bodyLength ?? limit - upload.offset;
}

/**
 * Receives the body of a PATCH at the end of a complete upload: 413 at its first byte (there is
 * no room left), and a checksum it declares (header or trailer) must be the empty body's (460).
 */
async function receiveEmptyBody({ req, facts, context }: TusCall): Promise<void> {
  const declared = declaredBodyLength(req);
  if (declared !== undefined && declared > 0) throw ERRORS.ERR_SIZE_EXCEEDED;
  const source = facts.nodeRequest;
  if (source && !source.readableEnded) await endOfEmptyBody(source, context.signal);
  let checksum: DeclaredChecksum | undefined;
  if (facts.checksum === 'trailer') {
    const trailer = source?.trailers['upload-checksum'];
    if (!trailer) throw errors.checksumTrailerMissing();
    checksum = parseUploadChecksum(trailer);
  } else {
    checksum = facts.checksum;
  }
  if (!checksum) return;
  const empty = createDigester(checksum.algorithm).digest();
  if (empty.length !== checksum.digest.length || !timingSafeEqual(empty, checksum.digest)) throw errors.checksumMismatch();
}

/** Resolves when `source` ends without a byte; rejects at its first byte (413), or when the request is aborted. */
function endOfEmptyBody(source: IncomingMessage, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const settle = (error?: unknown) => {
      source.off('data', onData).off('end', onEnd).off('error', settle).off('close', onClose);
      signal.removeEventListener('abort', onAbort);
      if (error) reject(error);
      else resolve();
    };
    const onData = (chunk: Buffer) => {
      if (chunk.length > 0) settle(ERRORS.ERR_SIZE_EXCEEDED);
    };
    const onEnd = () => settle();
    const onClose = () => settle(source.complete ? undefined : ERRORS.ABORTED);
    const onAbort = () => settle(ERRORS.ABORTED);
    source.on('data', onData).on('end', onEnd).on('error', settle).on('close', onClose);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

function hasExpired(store: TesseraDataStore, upload: Upload): boolean {
  const expiry = store.getExpiration();
  if (expiry <= 0 || !upload.creation_date) return false;
  return Date.now() > new Date(upload.creation_date).getTime() + expiry;
}

function expiresAt(store: TesseraDataStore, upload: Upload): string | undefined {
  const expiry = store.getExpiration();
  if (expiry <= 0 || !upload.creation_date) return undefined;
  return new Date(new Date(upload.creation_date).getTime() + expiry).toUTCString();
}
