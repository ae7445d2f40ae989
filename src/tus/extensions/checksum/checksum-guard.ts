import { timingSafeEqual } from 'node:crypto';
import { pipeline } from 'node:stream';
import { errors, hasTusStatus } from '../../../errors.js';
import type { TusRequest } from '../../request-facts.js';
import type { WriteGuard } from '../../tessera-datastore.js';
import { CHECKSUM_ALGORITHMS } from './algorithms.js';
import { parseUploadChecksum, type DeclaredChecksum } from './checksum-header.js';
import { HashingStream } from './hashing-stream.js';

/** What the guard needs from the store to take a failed chunk back. */
export interface ChunkDiscarder {
  /** Drops every stored byte at and after `offset`. */
  truncate(id: string, offset: number): Promise<void>;
  /** Removes an upload created by the failing request itself (creation-with-upload). */
  remove(id: string): Promise<void>;
}

/** Why a checksummed body was discarded: cut short (unverifiable), not matching (460), or its trailer missing or bad. */
export type DiscardReason = 'cut-short' | 'checksum-mismatch' | 'invalid-checksum';

/** Told how many bytes of a body were received and then discarded (e.g. a metric of wasted traffic). */
export type OnDiscarded = (bytes: number, reason: DiscardReason) => void;

/**
 * Verifies a body against the `Upload-Checksum` its request declared (header or trailer),
 * hashing as the bytes stream to the store. A body that fails verification, or that ended
 * before it could be verified, is discarded: the upload's offset and bytes are restored.
 * Requests without a declared checksum go straight to the store.
 */
export function checksumWriteGuard(store: ChunkDiscarder, onDiscarded: OnDiscarded = () => {}): WriteGuard {
  return async (write, stream, upload, request) => {
    const expected = request.facts.checksum;
    if (!expected) return write(stream);

    // Verified before the store sees the end of the body: a failing body ends in an error
    // instead, so a store writing all-or-nothing (S3) never keeps it.
    let verdict: Error | undefined;
    const hasher: HashingStream = new HashingStream(expected === 'trailer' ? CHECKSUM_ALGORITHMS : [expected.algorithm], () => {
      verdict = verify(request, expected, hasher);
      return verdict;
    });
    let sourceError: unknown;
    stream.once('error', (error) => {
      sourceError = error;
    });
    // pipeline, not pipe: an upstream failure (size limit, abort) must end the store's write.
    pipeline(stream, hasher, () => {});

    const discard = async (reason: unknown) => {
      await store.truncate(upload.id, upload.offset);
      // A creation-with-upload POST made this upload: without its first chunk the client
      // never learns its URL, so drop it rather than leave an orphan behind.
      if (request.req.method === 'POST' && upload.offset === 0) await store.remove(upload.id);
      request.facts.log.warn(
        { offset: upload.offset, bytes: hasher.bytes, reason: hasTusStatus(reason) ? reason.body.trim() : String(reason) },
        'checksummed chunk discarded',
      );
      onDiscarded(hasher.bytes, discardReason(reason));
    };

    let offset: number;
    try {
      offset = await write(hasher, { allOrNothing: true });
    } catch (error) {
      const cause = sourceError ?? verdict ?? error;
      await discard(cause);
      throw cause;
    }
    const failure = verify(request, expected, hasher);
    if (failure) {
      await discard(failure);
      throw failure;
    }
    return offset;
  };
}

function discardReason(reason: unknown): DiscardReason {
  const code = (reason as { code?: unknown }).code;
  if (code === 'ERR_CHECKSUM_MISMATCH') return 'checksum-mismatch';
  if (code === 'ERR_CHECKSUM_TRAILER_MISSING' || code === 'ERR_INVALID_CHECKSUM') return 'invalid-checksum';
  // Interrupted, the client gone, the lock handed over, a store error mid-body: it ended before verification.
  return 'cut-short';
}

/** The reason the body cannot be kept, or undefined when it matches its checksum. */
function verify(request: TusRequest, expected: DeclaredChecksum | 'trailer', hasher: HashingStream): Error | undefined {
  if (endedEarly(request, hasher.bytes)) return errors.checksumInterrupted();
  let declared: DeclaredChecksum;
  if (expected === 'trailer') {
    const raw = request.facts.nodeRequest?.trailers['upload-checksum'];
    if (!raw) return errors.checksumTrailerMissing();
    try {
      declared = parseUploadChecksum(raw);
    } catch (error) {
      return error as Error;
    }
  } else {
    declared = expected;
  }
  return timingSafeEqual(hasher.digest(declared.algorithm), declared.digest) ? undefined : errors.checksumMismatch();
}

/**
 * True when the store saw less than the client sent: the client disconnected, or the
 * request was cut short so another one could take the upload's lock (@tus/server then
 * ends the body stream early and would keep the partial bytes).
 */
function endedEarly({ req, facts }: TusRequest, received: number): boolean {
  // `complete` is set once the whole message, trailers included, has been parsed.
  if (facts.nodeRequest && !facts.nodeRequest.complete) return true;
  const declaredLength = req.headers.get('content-length');
  return declaredLength !== null && Number(declaredLength) !== received;
}
