import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { GetObjectCommand, type S3ClientConfig } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { KvStore, Upload } from '@tus/utils';
import { LruKvStore } from '../../caching/lru-kv-store.js';
import type { MetadataValue } from '@tus/s3-store';
import type { S3Config } from '../../config/config.js';
import type { Logger } from '../../logging/logger.js';
import type { ByteRange, DownloadAnswer, SeenReads, StoreAdapter } from '../store-adapter.js';
import { assembleInS3 } from './s3-concatenation.js';
import { sweepDeadPartFiles } from './part-files.js';
import { describeS3Error, isS3Unreachable, isWorthResending, S3DamagedPartError } from './s3-errors.js';
import { S3_LIMITS } from './s3-limits.js';
import { TesseraS3Store, type SeenInS3 } from './tessera-s3-store.js';
import { S3PresignedParts } from './presigned-parts.js';

export interface S3StoreAdapterOptions {
  readonly s3: S3Config;
  readonly expiryMs: number;
  /**
   * Whether upload info may be cached in this process. Only safe with one instance: the
   * cache is per process, and another instance changing an upload (declaring its length,
   * resetting it) would leave this one with stale info.
   */
  readonly cacheInfo: boolean;
  readonly log: Logger;
}

const DEFAULT_NETWORK_TIMEOUT_MS = 30_000;
const READY_PROBE_MS = 5_000;
const timeoutOf = (s3: S3Config) => s3.networkTimeoutMs ?? DEFAULT_NETWORK_TIMEOUT_MS;

/** Upload info of this many recently used uploads stays in memory (embedded mode), as on the file store. */
const INFO_CACHE_ENTRIES = 10_000;

/** Never holds anything: every lookup goes to the `.info` object in S3. */
class NoCache implements KvStore<MetadataValue> {
  async get(): Promise<MetadataValue | undefined> {
    return undefined;
  }
  async set(): Promise<void> {}
  async delete(): Promise<void> {}
}

/** The SDK settings every S3-compatible server understands. */
export function s3ClientConfig(s3: S3Config): S3ClientConfig & { bucket: string } {
  return {
    bucket: s3.bucket,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    ...(s3.endpoint ? { endpoint: s3.endpoint } : {}),
    ...(s3.credentials ? { credentials: s3.credentials } : {}),
    // Newer SDKs send aws-chunked bodies with a CRC trailer by default; many S3-compatible
    // servers store that framing verbatim. Checksums only where an operation requires one.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // The SDK's default makes every part of 2 MiB or more wait for `100 Continue` before its
    // first byte: a round trip per part while the client's bytes queue up behind it, and up
    // to 6 s per part behind a proxy that swallows the expectation. What it saves (a body
    // sent in vain when S3 refuses the request) Tessera pays anyway: the bytes are arriving.
    ...(s3.expectContinue ? {} : { expectContinueHeader: false }),
    // An S3 that stops answering (a black hole, a frozen server) fails requests instead of
    // holding them, and the upload's lock with them: nothing moving on the socket for this long.
    requestHandler: { connectionTimeout: Math.min(5_000, timeoutOf(s3)), socketTimeout: timeoutOf(s3) },
  };
}

/** S3 (or an S3-compatible store) through @tus/s3-store, with Tessera's capabilities. */
export class S3StoreAdapter implements StoreAdapter {
  readonly rollsBackExactly = false;
  readonly kind = 's3' as const;
  readonly datastore: TesseraS3Store;
  readonly presignedParts: S3PresignedParts;
  private readonly log: Logger;

  constructor(options: S3StoreAdapterOptions) {
    this.log = options.log;
    // What a process killed mid-PATCH left in the temp dir.
    void sweepDeadPartFiles().then(
      (removed) => removed > 0 && this.log.info({ removed }, 'removed part files of processes that are gone'),
      (error: unknown) => this.log.warn({ err: error }, 'could not sweep part files'),
    );
    this.datastore = new TesseraS3Store({
      partSize: options.s3.partSize,
      expirationPeriodInMilliseconds: options.expiryMs,
      // Expiry is Tessera's sweep (TesseraDataStore.deleteExpired), not bucket lifecycle tags.
      useTags: false,
      cache: options.cacheInfo ? new LruKvStore<MetadataValue>(INFO_CACHE_ENTRIES) : new NoCache(),
      maxMultipartParts: S3_LIMITS.maxParts,
      s3ClientConfig: s3ClientConfig(options.s3),
    });
    this.presignedParts = new S3PresignedParts(this.datastore);
  }

  /**
   * Unfinished uploads only (in-progress multipart uploads): a finished upload never
   * expires, and listing every object of a large bucket on each sweep would be costly.
   */
  async listUploadIds(): Promise<string[]> {
    const ids = new Set<string>();
    for await (const upload of this.datastore.multipartUploads()) ids.add(upload.key);
    return [...ids];
  }

  async sweepOrphans(olderThanMs: number): Promise<number> {
    return this.datastore.abortOrphans(olderThanMs);
  }

  truncate(id: string, offset: number): Promise<void> {
    return this.datastore.truncate(id, offset);
  }

  writeAllOrNothing(stream: Readable, id: string, offset: number, seen?: SeenReads): Promise<number> {
    return this.datastore.writeAllOrNothing(stream, id, offset, seen as SeenInS3 | undefined);
  }

  writeDeclared(stream: Readable, id: string, offset: number, length: number, seen?: SeenReads): Promise<number> {
    return this.datastore.writeDeclared(stream, id, offset, length, seen as SeenInS3 | undefined);
  }

  readUpload(id: string): Promise<{ upload: Upload; seen: SeenReads | undefined }> {
    return this.datastore.readUpload(id);
  }

  read(id: string, range?: ByteRange): Promise<Readable> {
    return this.datastore.read(id, range);
  }

  modifiedAt(id: string): Promise<Date> {
    return this.datastore.modifiedAt(id);
  }

  /** A presigned GetObject of the upload's object, answering with `answer`'s headers. */
  downloadUrl(id: string, answer: DownloadAnswer, expiresInMs: number): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.datastore.bucketName,
      Key: id,
      ResponseContentType: answer.contentType,
      ResponseContentDisposition: answer.contentDisposition,
      // The URL is short-lived and per-user: no cache should keep the answer for another.
      ResponseCacheControl: 'private, no-cache',
    });
    return getSignedUrl(this.datastore.s3, command, { expiresIn: Math.max(1, Math.floor(expiresInMs / 1000)) });
  }

  async concatenate(finalId: string, partialIds: readonly string[]): Promise<{ bytes: number; sha256: string }> {
    // A crash mid-assembly leaves parts behind; always start from an empty final.
    await this.datastore.truncate(finalId, 0);
    const assembly = await assembleInS3(this.datastore, finalId, partialIds);
    this.log.info({ uploadId: finalId, ...assembly }, 'final assembled inside S3');
    return assembly;
  }

  /** A one-byte object written and deleted: proves the bucket exists and takes writes. */
  async checkWritable(): Promise<void> {
    const { s3, bucketName } = this.datastore;
    const Key = `.tessera-readyz-${randomUUID()}`;
    // A probe answers promptly: readiness must not hang on an S3 that does not.
    const abortSignal = AbortSignal.timeout(READY_PROBE_MS);
    try {
      await s3.putObject({ Bucket: bucketName, Key, Body: 'x' }, { abortSignal });
    } catch (error) {
      throw new Error(`S3 bucket ${bucketName} cannot take writes: ${describeS3Error(error)}`);
    } finally {
      await s3.deleteObject({ Bucket: bucketName, Key }, { abortSignal: AbortSignal.timeout(READY_PROBE_MS) }).catch(() => undefined);
    }
  }

  /** S3 could not be reached, gave up on the request, or kept damaging or refusing a part's bytes: the answer is 503, not 500. */
  unreachable(error: unknown): boolean {
    return isS3Unreachable(error) || error instanceof S3DamagedPartError || isWorthResending(error);
  }
}
