import { UploadPartCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { ERRORS } from '@tus/utils';
import { errors } from '../../errors.js';
import type { PresignedParts, StoredPart } from '../store-adapter.js';
import { isMissingUpload, isS3NotFound } from './s3-errors.js';
import { S3_LIMITS } from './s3-limits.js';
import type { TesseraS3Store } from './tessera-s3-store.js';

/** S3's answer quotes an ETag; clients pass it on with or without the quotes. */
const bareEtag = (etag: string | undefined) => (etag ?? '').replace(/^"|"$/g, '');

/**
 * Parts a client PUTs straight into the upload's multipart upload (S3_DIRECT), by presigned
 * UploadPart URLs: each names the bucket, the upload's key, its multipart upload and one part
 * number, so it is good for that part of that upload only; a declared Content-MD5 is signed into
 * it, so S3 refuses a body damaged on the way (BadDigest). Completion takes exactly the parts S3
 * holds, checked against the list the client sends.
 */
export class S3PresignedParts implements PresignedParts {
  private origin: Promise<string> | undefined;

  constructor(private readonly store: TesseraS3Store) {}

  storageOrigin(): Promise<string> {
    // Signed as a part URL is (endpoint, path or virtual-host style): its origin is theirs.
    this.origin ??= this.signPart('origin', 'origin', 1, { expiresInS: 1 }).then((url) => new URL(url).origin);
    return this.origin;
  }

  async multipartUploadOf(id: string): Promise<string> {
    // The upload's info names it: no part listing needed.
    try {
      return await this.store.uploadIdOf(id);
    } catch (error) {
      if (isS3NotFound(error)) throw ERRORS.FILE_NOT_FOUND;
      throw error;
    }
  }

  signPart(
    id: string,
    multipartUpload: string,
    partNumber: number,
    options: { readonly contentMd5?: string; readonly contentLength?: number; readonly expiresInS: number },
  ): Promise<string> {
    const command = new UploadPartCommand({
      Bucket: this.store.bucketName,
      Key: id,
      UploadId: multipartUpload,
      PartNumber: partNumber,
      ...(options.contentMd5 ? { ContentMD5: options.contentMd5 } : {}),
      ...(options.contentLength !== undefined ? { ContentLength: options.contentLength } : {}),
    });
    // Content-MD5 and Content-Length stay signed headers (never hoisted into the query): the PUT must carry them as signed.
    return getSignedUrl(this.store.s3, command, { expiresIn: options.expiresInS, unhoistableHeaders: new Set(['content-md5']), signableHeaders: new Set(['content-length', 'content-md5']) });
  }

  async listParts(id: string, multipartUpload: string): Promise<readonly StoredPart[]> {
    const current = await this.partsOfUpload(id);
    if (current.multipartUpload !== multipartUpload) throw errors.directUploadUnknown();
    return current.parts;
  }

  async complete(id: string, multipartUpload: string, given: readonly { readonly partNumber: number; readonly etag: string }[], maxSize: number): Promise<number> {
    let current;
    try {
      current = await this.partsOfUpload(id);
    } catch (error) {
      // Completed already (a retried completion whose first answer was lost): the object is the answer.
      if (error !== ERRORS.FILE_NOT_FOUND) throw error;
      const upload = await this.store.getUpload(id);
      if (upload.size === undefined || upload.offset !== upload.size) throw errors.directUploadUnknown();
      return upload.size;
    }
    if (current.multipartUpload !== multipartUpload) throw errors.directUploadUnknown();
    const stored = current.parts;
    if (given.length === 0) throw errors.directPartsInvalid('A completion names at least one part');
    if (given.length !== stored.length) {
      throw errors.directPartsInvalid(`The completion names ${given.length} parts where S3 holds ${stored.length}`);
    }
    given.forEach((part, index) => {
      const held = stored[index];
      if (part.partNumber !== index + 1 || held?.partNumber !== index + 1) {
        throw errors.directPartsInvalid('Parts must be numbered 1, 2, 3, ... without a gap');
      }
      if (bareEtag(part.etag) !== bareEtag(held.etag)) throw errors.directPartsInvalid(`Part ${part.partNumber} is not the part S3 holds (its ETag differs)`);
      if (index < stored.length - 1 && held.size < S3_LIMITS.minPartSize) {
        throw errors.directPartsInvalid(`Part ${part.partNumber} has ${held.size} bytes; every part but the last needs at least ${S3_LIMITS.minPartSize}`);
      }
    });
    const size = stored.reduce((sum, part) => sum + part.size, 0);
    // Judged on the listing completed from: a part replaced after any earlier look changes nothing here.
    if (maxSize > 0 && size > maxSize) throw ERRORS.ERR_MAX_SIZE_EXCEEDED;
    await this.store.completeWith(id, stored.map((part) => ({ PartNumber: part.partNumber, ETag: part.etag, Size: part.size })), size);
    return size;
  }

  /** The upload's multipart upload and parts; FILE_NOT_FOUND once it was completed or when it never existed. */
  private async partsOfUpload(id: string): Promise<{ multipartUpload: string; parts: StoredPart[] }> {
    try {
      const { multipartUpload, parts } = await this.store.partsOf(id);
      return { multipartUpload, parts: parts.map((p) => ({ partNumber: p.PartNumber ?? 0, etag: p.ETag ?? '', size: p.Size ?? 0 })) };
    } catch (error) {
      if (isMissingUpload(error) || isS3NotFound(error)) throw ERRORS.FILE_NOT_FOUND;
      throw error;
    }
  }
}
