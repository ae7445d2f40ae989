import type { Part, S3 } from '@aws-sdk/client-s3';
import type { MetadataValue } from '@tus/s3-store';
import { requestContext, type RequestContext } from '../../tus/request-context.js';

/** What a getUpload read of one upload: what the write after it would read again. */
export interface UploadReads {
  info?: MetadataValue;
  parts?: Part[];
  /** Size of the `.part` object; null when there is none. */
  tail?: number | null;
}

interface Active {
  readonly mode: 'record' | 'replay';
  readonly reads: UploadReads;
}

/** Operations that only read: every other S3 command changes something. */
const READS = new Set(['GetObjectCommand', 'HeadObjectCommand', 'ListPartsCommand', 'ListObjectsV2Command', 'ListMultipartUploadsCommand', 'HeadBucketCommand']);

/**
 * Hands what the handler's getUpload read from S3 to the write that follows it in the same
 * request. @tus/s3-store's write reads the info, the parts and the `.part` object again right
 * after getUpload read them: 2 to 5 more S3 round trips on every PATCH.
 *
 * Sound because a PATCH (or creation-with-upload) holds its upload's lock from before that
 * getUpload until the write ends, so no other writer changes the upload in between; and
 * because any S3 command that changes something, from any code in the request, forgets
 * every recorded read first (see `forgetOnWrites`). Only the write right after a getUpload
 * replays, each read at most once where the write changes it (parts, `.part`); a later
 * getUpload replaces the record. Outside a request nothing is recorded.
 */
export class RequestReads {
  private readonly recorded = new Map<string, UploadReads>();
  private readonly active = new Map<string, Active>();

  /** Runs a getUpload of `id`, keeping what it reads for the next write of `id`. */
  async recordDuring<T>(id: string, read: () => Promise<T>): Promise<T> {
    // An earlier read (say, before the lock was taken) must not outlive a failed one.
    this.recorded.delete(id);
    const reads: UploadReads = {};
    this.active.set(id, { mode: 'record', reads });
    try {
      const result = await read();
      this.recorded.set(id, reads);
      return result;
    } finally {
      this.active.delete(id);
    }
  }

  /** Runs a write of `id` with what the last getUpload of `id` read, if nothing changed since. */
  async replayDuring<T>(id: string, write: () => Promise<T>): Promise<T> {
    const reads = this.recorded.get(id);
    this.recorded.delete(id);
    if (!reads) return write();
    this.active.set(id, { mode: 'replay', reads });
    try {
      return await write();
    } finally {
      this.active.delete(id);
    }
  }

  /** The reads being recorded or replayed for `id` right now. */
  of(id: string): Active | undefined {
    return this.active.get(id);
  }

  /** A change in S3: nothing read so far may be replayed (the info of a write under way stays: only saveMetadata changes it). */
  forget(): void {
    this.recorded.clear();
    for (const { reads } of this.active.values()) {
      reads.parts = undefined;
      reads.tail = undefined;
    }
  }
}

const perRequest = new WeakMap<RequestContext, RequestReads>();

/** This request's reads; undefined outside a request (sweeps, start-up checks). */
export function requestReads(): RequestReads | undefined {
  const ctx = requestContext.getStore();
  if (!ctx) return undefined;
  let reads = perRequest.get(ctx);
  if (!reads) {
    reads = new RequestReads();
    perRequest.set(ctx, reads);
  }
  return reads;
}

/** Makes every changing command `client` sends forget the sending request's recorded reads. */
export function forgetOnWrites(client: S3): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (READS.has(context.commandName ?? '')) return next(args);
      const reads = requestReads();
      reads?.forget();
      try {
        return await next(args);
      } finally {
        reads?.forget();
      }
    },
    { step: 'initialize', name: 'tesseraForgetReadsOnWrite' },
  );
}
