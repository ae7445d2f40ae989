import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { CompletedPart } from '@aws-sdk/client-s3';
import { planConcatenation, type PlannedPart } from './concatenation-plan.js';
import { storedAsSent } from './part-etag.js';
import { S3DamagedPartError } from './s3-errors.js';
import type { TesseraS3Store } from './tessera-s3-store.js';

/** What one server-side assembly did, in bytes. */
export interface S3Assembly {
  readonly bytes: number;
  readonly sha256: string;
  readonly parts: number;
  /** Copied inside S3 (UploadPartCopy): never through this server. */
  readonly copiedBytes: number;
  /** Partials below 5 MiB joined through this server (downloaded, then uploaded). */
  readonly streamedBytes: number;
  /** Read back from S3 to compute the final object's SHA-256. */
  readonly verifiedBytes: number;
}

/** Parts in flight at once; copies cost S3 time, not ours. */
const CONCURRENCY = 8;

/**
 * Builds the final object `finalId` from the partial objects inside S3: a multipart upload
 * whose parts are UploadPartCopy ranges of the partials, except where S3's 5 MiB minimum
 * part size forces small partials to be joined through this server (see planConcatenation).
 * Each copy names the partial's ETag (x-amz-copy-source-if-match), so a partial replaced
 * meanwhile fails the assembly instead of slipping in. Then the multipart upload is
 * completed and the final object read back once, streaming, for its SHA-256.
 */
export async function assembleInS3(store: TesseraS3Store, finalId: string, partialIds: readonly string[]): Promise<S3Assembly> {
  const { s3, bucketName: Bucket } = store;
  const sources = await Promise.all(
    partialIds.map(async (key) => {
      const head = await s3.headObject({ Bucket, Key: key });
      return { key, size: head.ContentLength ?? 0, etag: head.ETag };
    }),
  );
  const plan = planConcatenation(sources.map((s) => s.size));
  const UploadId = await store.uploadIdOf(finalId);

  const copy = async (part: PlannedPart): Promise<CompletedPart> => {
    const [segment] = part.segments;
    if (!segment) throw new Error('a copied part has one segment');
    const source = sources[segment.source];
    if (!source) throw new Error(`no partial #${segment.source}`);
    const { CopyPartResult } = await s3.uploadPartCopy({
      Bucket,
      Key: finalId,
      UploadId,
      PartNumber: part.partNumber,
      CopySource: `${Bucket}/${encodeURIComponent(source.key)}`,
      CopySourceRange: `bytes=${segment.start}-${segment.end - 1}`,
      CopySourceIfMatch: source.etag,
    });
    return { PartNumber: part.partNumber, ETag: CopyPartResult?.ETag };
  };

  const stream = async (part: PlannedPart): Promise<CompletedPart> => {
    const md5 = createHash('md5');
    async function* bytes(): AsyncGenerator<Uint8Array> {
      for (const segment of part.segments) {
        const source = sources[segment.source];
        if (!source) throw new Error(`no partial #${segment.source}`);
        const { Body } = await s3.getObject({ Bucket, Key: source.key, Range: `bytes=${segment.start}-${segment.end - 1}`, IfMatch: source.etag });
        for await (const chunk of Body as Readable) {
          md5.update(chunk as Buffer);
          yield chunk as Buffer;
        }
      }
    }
    const stored = await s3.uploadPart({
      Bucket,
      Key: finalId,
      UploadId,
      PartNumber: part.partNumber,
      ContentLength: part.size,
      Body: Readable.from(bytes(), { objectMode: false }),
    });
    // The part's bytes came from S3 and went back: what S3 stored must be what was sent
    // (unknowable under KMS or customer-key encryption: the final's SHA-256 is all there is).
    const sent = md5.digest();
    if (storedAsSent(stored, sent) === 'damaged') {
      throw new S3DamagedPartError(`S3 stored part ${part.partNumber} of final ${finalId} with ETag ${stored.ETag}, not the MD5 of the bytes sent (${sent.toString('hex')})`);
    }
    return { PartNumber: part.partNumber, ETag: stored.ETag };
  };

  const completed = await inParallel(plan.parts, CONCURRENCY, (part) => (part.segments.length === 1 ? copy(part) : stream(part)));
  if (completed.length === 0) {
    // S3 needs at least one part; an empty final is one empty part.
    const { ETag } = await s3.uploadPart({ Bucket, Key: finalId, UploadId, PartNumber: 1, Body: Buffer.alloc(0) });
    completed.push({ PartNumber: 1, ETag });
  }
  await s3.completeMultipartUpload({ Bucket, Key: finalId, UploadId, MultipartUpload: { Parts: completed } });

  const hash = createHash('sha256');
  let verifiedBytes = 0;
  const { Body } = await s3.getObject({ Bucket, Key: finalId });
  for await (const chunk of Body as Readable) {
    hash.update(chunk as Buffer);
    verifiedBytes += (chunk as Buffer).length;
  }
  if (verifiedBytes !== plan.size) throw new Error(`S3 assembled ${verifiedBytes} bytes for ${finalId}, expected ${plan.size}`);
  return {
    bytes: plan.size,
    sha256: hash.digest('hex'),
    parts: completed.length,
    copiedBytes: plan.copiedBytes,
    streamedBytes: plan.streamedBytes,
    verifiedBytes,
  };
}

/** `fn` over `items` with at most `limit` running; results in input order. */
async function inParallel<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
