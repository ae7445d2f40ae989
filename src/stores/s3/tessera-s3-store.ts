import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Part, S3 } from '@aws-sdk/client-s3';
import { S3Store, type MetadataValue } from '@tus/s3-store';
import { ERRORS, TUS_RESUMABLE, Upload } from '@tus/utils';
import { isMissingUpload, isS3NotFound, isWorthResending, S3DamagedPartError, S3TruncateError } from './s3-errors.js';
import type { PartFile } from './part-files.js';
import { storedAsSent } from './part-etag.js';
import { partLayout } from './part-layout.js';
import type { ByteRange } from '../store-adapter.js';
import { pipeParts } from './part-pipeline.js';
import { discardStaged, joinStreams, stageBody } from './staged-body.js';

/** User metadata of the `.part` tail: the number of the part its bytes will become (see putTail). */
const TAIL_PART_META = 'tessera-next-part';

/** Bytes read from a part file per socket write towards S3. */
const PART_READ_SIZE = 1024 * 1024;

/** Times a part (or tail) from a temp file is sent before its write fails: S3 500s, resets, BadDigest. */
const PART_ATTEMPTS = 3;

/** Content-MD5 of nothing: a voided part (see voidLeftovers). */
const EMPTY_MD5 = createHash('md5').digest('base64');

/** What S3 holds for an upload right now. */
export interface StoredState {
  /** Bytes in committed multipart parts (all of them once completed). */
  readonly committed: number;
  /** Bytes in the `<id>.part` incomplete-part object. */
  readonly incomplete: number;
  /** The multipart upload was completed: the object `<id>` holds the whole file. */
  readonly completed: boolean;
}

/**
 * What reading an unfinished upload saw in S3: its info, its parts and the size of its `.part`
 * tail (undefined: none). Handed back to a write of the same upload under the same lock
 * (TesseraS3Store.readUpload), which starts from it instead of reading S3 again.
 */
export interface SeenInS3 {
  readonly info: MetadataValue;
  readonly parts: Part[];
  readonly tail: number | undefined;
}

/** A multipart upload as ListMultipartUploads reports it. */
export interface MultipartListing {
  readonly key: string;
  readonly uploadId: string;
  readonly initiated: Date | undefined;
}

/**
 * @tus/s3-store plus what Tessera needs from S3: all-or-nothing writes (checksummed
 * bodies), exact truncation where S3 allows it, and removal that leaves no object behind.
 *
 * Objects per upload `<id>`: `<id>.info` (upload info, JSON), the multipart upload for
 * `<id>` while it is unfinished, `<id>.part` (the tail below S3's 5 MiB minimum part
 * size, between PATCHes), and finally the object `<id>`.
 */
export class TesseraS3Store extends S3Store {
  /**
   * Bodies of declared length being written, by upload id (a write holds its upload's lock, so
   * there is one per id): `uploadParts`, deep inside @tus/s3-store's write, learns from it how
   * many bytes the stream will bring.
   */
  private readonly declaredBodies = new Map<string, { readonly offset: number; readonly length: number }>();
  /**
   * What the write of an upload under way starts from (see SeenInS3), by upload id like
   * `declaredBodies`: @tus/s3-store's write reads the info, the parts and the tail through the
   * overrides below, which answer from here. Each read is used once where the write changes it.
   */
  private readonly startingPoints = new Map<string, { info: MetadataValue; parts?: Part[]; noTail: boolean }>();

  get s3(): S3 {
    return this.client;
  }

  get bucketName(): string {
    return this.bucket;
  }

  async uploadIdOf(id: string): Promise<string> {
    return (await this.getMetadata(id))['upload-id'];
  }

  /**
   * An upload with what reading it saw: a PATCH reads its upload under its lock and passes
   * `seen` to the write that follows, sparing that write 2 to 3 S3 round trips (the info, the
   * parts, the tail, read again). Nothing is seen of a completed upload.
   */
  async readUpload(id: string): Promise<{ upload: Upload; seen: SeenInS3 | undefined }> {
    let info: MetadataValue;
    try {
      info = await this.getMetadata(id);
    } catch {
      throw ERRORS.FILE_NOT_FOUND;
    }
    let parts: Part[];
    try {
      parts = await this.listParts(info);
    } catch (error) {
      // The multipart upload was completed (or aborted): the info says it is whole.
      if (!isMissingUpload(error)) throw error;
      const { file } = info;
      return { upload: new Upload({ ...file, offset: file.size ?? 0, size: file.size }), seen: undefined };
    }
    const tail = await this.tailOf(id, parts);
    // Only the unbroken run of parts from 1 counts (see part-layout).
    const committed = partLayout(parts).countedBytes;
    const { size } = info.file;
    if (tail === undefined && size !== undefined && size > 0 && committed === size) {
      // Every byte is in a part but the multipart upload was never completed: the last write's
      // CompleteMultipartUpload failed, or the process died before it. Complete it now (whoever
      // reads first; completing twice is harmless), or the object would never exist.
      await this.finishMultipartUpload(info, parts);
      await this.completeMetadata(info.file);
      return { upload: new Upload({ ...info.file, offset: size, size }), seen: undefined };
    }
    return { upload: new Upload({ ...info.file, offset: committed + (tail ?? 0), size }), seen: { info, parts, tail } };
  }

  /**
   * Completes the multipart upload with the parts that count (see part-layout): voided parts and
   * any after a hole are left out, and S3 drops them. Someone else may have completed it first
   * (a read of the upload that found every byte in parts, see readUpload): then the object is
   * there, and that is success.
   */
  protected override async finishMultipartUpload(metadata: MetadataValue, parts: Part[]): Promise<string | undefined> {
    try {
      return await super.finishMultipartUpload(metadata, [...partLayout(parts).counted]);
    } catch (error) {
      if (!isMissingUpload(error)) throw error;
      const completed = await this.client.headObject({ Bucket: this.bucket, Key: metadata.file.id }).then(
        () => true,
        () => false,
      );
      if (!completed) throw error;
      return undefined;
    }
  }

  override async getUpload(id: string): Promise<Upload> {
    return (await this.readUpload(id)).upload;
  }

  /** @tus/s3-store's retrieveParts for an upload whose info is known (it would read the info again, per page). */
  private async listParts(info: MetadataValue): Promise<Part[]> {
    const parts: Part[] = [];
    let marker: string | undefined;
    do {
      const page = await this.client.listParts({ Bucket: this.bucket, Key: info.file.id, UploadId: info['upload-id'], PartNumberMarker: marker });
      parts.push(...(page.Parts ?? []));
      marker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
    } while (marker);
    return parts.sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
  }

  /** Stores a body of declared length (see `expectedBytes`), starting from what `seen` saw. */
  writeDeclared(src: Readable, id: string, offset: number, length: number, seen?: SeenInS3): Promise<number> {
    return this.startingFrom(id, seen, async () => {
      this.declaredBodies.set(id, { offset, length });
      try {
        return await this.write(src, id, offset);
      } finally {
        this.declaredBodies.delete(id);
      }
    });
  }

  /** Runs a write of `id` whose reads start from `seen` (when given). */
  private async startingFrom<T>(id: string, seen: SeenInS3 | undefined, write: () => Promise<T>): Promise<T> {
    if (!seen) return write();
    this.startingPoints.set(id, { info: seen.info, parts: seen.parts, noTail: seen.tail === undefined });
    try {
      return await write();
    } finally {
      this.startingPoints.delete(id);
    }
  }

  protected override async getMetadata(id: string): Promise<MetadataValue> {
    return this.startingPoints.get(id)?.info ?? super.getMetadata(id);
  }

  protected override async retrieveParts(id: string, partNumberMarker?: string): Promise<Part[]> {
    const start = this.startingPoints.get(id);
    if (partNumberMarker || !start?.parts) return super.retrieveParts(id, partNumberMarker);
    // Once: the write adds parts, and reads them again to complete the upload.
    const { parts } = start;
    start.parts = undefined;
    return parts;
  }

  protected override downloadIncompletePart(id: string): ReturnType<S3Store['downloadIncompletePart']> {
    const start = this.startingPoints.get(id);
    if (!start?.noTail) return super.downloadIncompletePart(id);
    // Once: the write may leave a new tail behind.
    start.noTail = false;
    return Promise.resolve(undefined);
  }

  /**
   * @tus/s3-store's write, with the `.part` tail handed over safely. The stock write deleted the
   * tail before the bytes it carries were stored again: a body cut short before its first part
   * was in (a client gone, a lock handed over) lost bytes an earlier 204 had acknowledged, and
   * the offset went back. Here the tail stays until the first new part holding its bytes is
   * stored (or a new tail replaced it), and a write that stored nothing changes nothing.
   */
  override async write(src: Readable, id: string, offset: number): Promise<number> {
    const metadata = await this.getMetadata(id);
    const parts = await this.retrieveParts(id);
    const layout = partLayout(parts);
    const firstPart = layout.nextPartNumber;
    const tail = await this.liveTail(id, parts);
    await this.voidLeftovers(metadata, layout.leftovers);
    const source = tail ? joinStreams(tail.createReader({ cleanUpOnEnd: true }), src) : src;
    const start = offset - (tail?.size ?? 0);
    const handOver = { firstPart, firstPartStored: false, tailReplaced: false };
    let stored: number;
    try {
      stored = await this.pipeBody(metadata, source, firstPart, start, handOver);
    } finally {
      // The old tail's bytes now live in the first new part: the tail must not count twice.
      if (tail && handOver.firstPartStored && !handOver.tailReplaced) await this.deleteIncompletePart(id);
    }
    const newOffset = stored > 0 ? start + stored : offset;
    if (metadata.file.size === newOffset) {
      await this.finishMultipartUpload(metadata, await this.retrieveParts(id));
      await this.completeMetadata(metadata.file);
      await this.clearCache(id);
    }
    return newOffset;
  }

  /**
   * Writes the `.part` tail, tagged with the number of the part its bytes will become. A write
   * that stores them in that part deletes the tail afterwards; if it dies (or the delete fails)
   * in between, the tag tells readers the tail is stale, so its bytes are never counted twice.
   */
  private putTail(id: string, tail: PartFile, partNumber: number): Promise<string | undefined> {
    return resending(async () => {
      const { ETag } = await this.client.putObject({
        Bucket: this.bucket,
        Key: this.partKey(id, true),
        Body: fs.createReadStream(tail.path, { highWaterMark: PART_READ_SIZE }),
        ContentLength: tail.size,
        ContentMD5: tail.md5.toString('base64'),
        Metadata: { [TAIL_PART_META]: String(partNumber) },
      });
      return ETag;
    });
  }

  /**
   * Stores a part from its temp file with its Content-MD5, so S3 refuses bytes damaged on the
   * way; sent again (the SDK never retries a streamed body) when S3 fails or refuses them.
   */
  private storeStagedPart(metadata: MetadataValue, part: PartFile, partNumber: number): Promise<string | undefined> {
    return resending(async () => {
      const { ETag } = await this.client.uploadPart({
        Bucket: this.bucket,
        Key: metadata.file.id,
        UploadId: metadata['upload-id'],
        PartNumber: partNumber,
        Body: fs.createReadStream(part.path, { highWaterMark: PART_READ_SIZE }),
        ContentLength: part.size,
        ContentMD5: part.md5.toString('base64'),
      });
      return ETag;
    });
  }

  /**
   * A part streamed straight from the request body (see direct-parts), checked once stored: S3's
   * ETag must be the MD5 of the bytes sent. A damaged part is voided at once (so it never
   * counts) and the write fails; so does a part S3 encrypted with KMS or a customer key, whose
   * ETag is no MD5 and so proves nothing: from then on every part goes through a temp file
   * with Content-MD5.
   */
  private async streamPart(metadata: MetadataValue, body: Readable, partNumber: number, size: number, signal: AbortSignal, sentMd5: () => Buffer): Promise<void> {
    const stored = await this.client.uploadPart(
      { Bucket: this.bucket, Key: metadata.file.id, UploadId: metadata['upload-id'], PartNumber: partNumber, Body: body, ContentLength: size },
      { abortSignal: signal },
    );
    const check = storedAsSent(stored, sentMd5());
    if (check === 'same') return;
    if (check === 'unknown') this.streamParts = false;
    await this.voidPart(metadata, partNumber);
    throw new S3DamagedPartError(
      check === 'unknown'
        ? `S3 encrypted part ${partNumber} of ${metadata.file.id} with a key whose ETags are no MD5: parts now go through temp files with Content-MD5`
        : `S3 stored part ${partNumber} of ${metadata.file.id} with ETag ${stored.ETag}, not the MD5 of the bytes sent (${sentMd5().toString('hex')})`,
    );
  }

  /** Streamed parts are checked against their ETags (see streamPart); false once S3 showed ETags that are no MD5. */
  private streamParts = true;

  /** Overwrites a part with an empty one: S3 cannot delete a part, and an empty part never counts (see part-layout). */
  private async voidPart(metadata: MetadataValue, partNumber: number): Promise<void> {
    await this.client.uploadPart({
      Bucket: this.bucket,
      Key: metadata.file.id,
      UploadId: metadata['upload-id'],
      PartNumber: partNumber,
      Body: Buffer.alloc(0),
      ContentLength: 0,
      ContentMD5: EMPTY_MD5,
    });
  }

  /**
   * Voids the parts after a hole before a write fills it: once the hole is filled they would
   * join the counted run, with bytes that belong elsewhere (see part-layout).
   */
  private async voidLeftovers(metadata: MetadataValue, leftovers: readonly Part[]): Promise<void> {
    for (const part of leftovers) await this.voidPart(metadata, part.PartNumber ?? 0);
  }

  /**
   * The `.part` tail, given the upload's parts: none, stale (its bytes are already in the part
   * it was tagged for, see putTail), or live with its size. Tails of earlier versions carry no
   * tag and are live.
   */
  private async tailState(id: string, parts: readonly Part[]): Promise<{ kind: 'none' } | { kind: 'stale' } | { kind: 'live'; size: number }> {
    let head: { ContentLength?: number; Metadata?: Record<string, string> };
    try {
      head = await this.client.headObject({ Bucket: this.bucket, Key: this.partKey(id, true) });
    } catch (error) {
      if (isS3NotFound(error)) return { kind: 'none' };
      throw error;
    }
    // Stale when the part it was tagged for counts; a part after a hole or voided does not.
    const taggedFor = Number(head.Metadata?.[TAIL_PART_META]);
    if (taggedFor > 0 && taggedFor < partLayout(parts).nextPartNumber) return { kind: 'stale' };
    return { kind: 'live', size: head.ContentLength ?? 0 };
  }

  /** The size of the tail that counts (see tailState). */
  private async tailOf(id: string, parts: readonly Part[]): Promise<number | undefined> {
    const state = await this.tailState(id, parts);
    return state.kind === 'live' ? state.size : undefined;
  }

  /**
   * The tail a write continues: downloaded when it is live; a stale one is deleted instead (the
   * write holds the upload's lock). What readUpload saw spares the check. `parts`: as listed.
   */
  private async liveTail(id: string, parts: readonly Part[]): ReturnType<S3Store['downloadIncompletePart']> {
    if (!this.startingPoints.has(id)) {
      const state = await this.tailState(id, parts);
      if (state.kind === 'none') return undefined;
      if (state.kind === 'stale') {
        await this.deleteIncompletePart(id);
        return undefined;
      }
    }
    return this.downloadIncompletePart(id);
  }

  protected override uploadParts(metadata: MetadataValue, readStream: Readable, currentPartNumber: number, offset: number): Promise<number> {
    return this.pipeBody(metadata, readStream, currentPartNumber, offset);
  }

  /**
   * The stock part pipeline's behaviour with cheaper I/O (see pipeParts); whole parts of a
   * request body of declared length go straight to S3 (see direct-parts). `handOver` learns
   * whether the first part got stored and whether a new tail replaced the old one.
   */
  private pipeBody(
    metadata: MetadataValue,
    readStream: Readable,
    currentPartNumber: number,
    offset: number,
    handOver?: { readonly firstPart: number; firstPartStored: boolean; tailReplaced: boolean },
  ): Promise<number> {
    const expectedBytes = this.expectedBytes(metadata.file.id, offset);
    const stored = <T>(partNumber: number, upload: Promise<T>): Promise<T> =>
      upload.then((result) => {
        if (handOver && partNumber === handOver.firstPart) handOver.firstPartStored = true;
        return result;
      });
    return pipeParts(readStream, currentPartNumber, offset, {
      partSize: this.calcOptimalPartSize(metadata.file.size),
      minPartSize: this.minPartSize,
      uploadSize: metadata.file.size,
      acquire: () => this.partUploadSemaphore.acquire(),
      uploadPart: (part, partNumber) => stored(partNumber, this.storeStagedPart(metadata, part, partNumber)),
      uploadTail: async (part, partNumber) => {
        const etag = await this.putTail(metadata.file.id, part, partNumber);
        if (handOver) handOver.tailReplaced = true;
        return etag;
      },
      direct:
        expectedBytes === undefined || !this.streamParts
          ? undefined
          : {
              expectedBytes,
              uploadPart: (body, partNumber, size, signal, sentMd5) => stored(partNumber, this.streamPart(metadata, body, partNumber, size, signal, sentMd5)),
            },
    });
  }

  /**
   * Bytes of the stream that starts at `streamStart`: the `.part` tail @tus/s3-store carries
   * in front of the body, plus the body, when the body being written has a declared length.
   */
  private expectedBytes(id: string, streamStart: number): number | undefined {
    const body = this.declaredBodies.get(id);
    if (!body || body.offset < streamStart) return undefined;
    return body.offset - streamStart + body.length;
  }

  /**
   * An empty upload is complete at once. S3 cannot complete a multipart upload without a part,
   * so its object is written empty and the multipart upload aborted: reading it finds it
   * complete (like any completed upload), and GET serves the empty object.
   */
  override async create(upload: Upload): Promise<Upload> {
    const created = await super.create(upload);
    if (upload.size === 0) {
      await this.client.putObject({ Bucket: this.bucket, Key: upload.id, Body: '' });
      await this.client.abortMultipartUpload({ Bucket: this.bucket, Key: upload.id, UploadId: await this.uploadIdOf(upload.id) });
    }
    return created;
  }

  /** A completed upload's bytes, all of them or `range` (inclusive): S3 sends only those. */
  override async read(id: string, range?: ByteRange): Promise<Readable> {
    try {
      if (!range) return await super.read(id);
      const { Body } = await this.client.getObject({ Bucket: this.bucket, Key: id, Range: `bytes=${range.start}-${range.end}` });
      return Body as Readable;
    } catch (error) {
      if (isS3NotFound(error)) throw ERRORS.FILE_NOT_FOUND;
      throw error;
    }
  }

  /** When a completed upload's object was written. */
  async modifiedAt(id: string): Promise<Date> {
    try {
      const { LastModified } = await this.client.headObject({ Bucket: this.bucket, Key: id });
      if (!LastModified) throw new Error(`S3 reported no LastModified for ${id}`);
      return LastModified;
    } catch (error) {
      if (isS3NotFound(error)) throw ERRORS.FILE_NOT_FOUND;
      throw error;
    }
  }

  /**
   * Writes a body so that S3 changes only if the body ends without an error: the body
   * (after any incomplete part it continues) is staged in local temp files, part-sized, and
   * uploaded once it has ended. A checksum guard that fails the stream at its end (or a
   * client that disconnects) therefore leaves parts, `.part` and offset exactly as they were.
   */
  writeAllOrNothing(src: Readable, id: string, offset: number, seen?: SeenInS3): Promise<number> {
    return this.startingFrom(id, seen, () => this.stageThenCommit(src, id, offset));
  }

  private async stageThenCommit(src: Readable, id: string, offset: number): Promise<number> {
    const metadata = await this.getMetadata(id);
    const parts = await this.retrieveParts(id);
    const layout = partLayout(parts);
    const incomplete = await this.liveTail(id, parts);
    let staged: PartFile[];
    try {
      const source = incomplete ? joinStreams(incomplete.createReader({ cleanUpOnEnd: true }), src) : src;
      staged = await stageBody(source, this.calcOptimalPartSize(metadata.file.size));
    } finally {
      if (incomplete) await fsp.rm(incomplete.path, { force: true });
    }
    const carried = incomplete?.size ?? 0;
    const received = staged.reduce((sum, c) => sum + c.size, 0) - carried;
    const newOffset = offset + received;
    try {
      // An empty body changes nothing, unless it is the one that makes the upload complete
      // (a deferred length declared equal to the offset): then the tail becomes the last part.
      if (received > 0 || metadata.file.size === newOffset) {
        await this.voidLeftovers(metadata, layout.leftovers);
        await this.commitStaged(metadata, staged, layout.nextPartNumber, offset - carried, carried > 0);
      }
    } finally {
      await discardStaged(staged);
    }
    if (metadata.file.size === newOffset) {
      await this.finishMultipartUpload(metadata, await this.retrieveParts(id));
      await this.completeMetadata(metadata.file);
      await this.clearCache(id);
    }
    return newOffset;
  }

  /**
   * Uploads staged chunks in order, one at a time, so that an S3 failure half-way leaves a
   * consistent prefix (never a gap in the part numbers, never bytes counted twice).
   */
  private async commitStaged(
    metadata: MetadataValue,
    staged: readonly PartFile[],
    firstPartNumber: number,
    startPosition: number,
    carriesIncomplete: boolean,
  ): Promise<void> {
    let partNumber = firstPartNumber;
    let position = startPosition;
    const id = metadata.file.id;
    for (const [index, chunk] of staged.entries()) {
      position += chunk.size;
      if (chunk.size >= this.minPartSize || position === metadata.file.size) {
        await this.storeStagedPart(metadata, chunk, partNumber++);
        // The first part now holds the old `.part` bytes: drop the object at once.
        if (index === 0 && carriesIncomplete) await this.deleteIncompletePart(id);
      } else {
        // Only the last chunk can be short; it replaces any `.part` object.
        await this.putTail(id, chunk, partNumber);
      }
    }
  }

  async storedState(id: string): Promise<StoredState> {
    try {
      const parts = await this.retrieveParts(id);
      return { committed: partLayout(parts).countedBytes, incomplete: (await this.tailOf(id, parts)) ?? 0, completed: false };
    } catch (error) {
      if (!isMissingUpload(error)) throw error;
      const { file } = await this.getMetadata(id);
      return { committed: file.size ?? 0, incomplete: 0, completed: true };
    }
  }

  /**
   * Drops every byte at and after `offset`. Exact where S3 allows it: to 0 (a fresh
   * multipart upload), or within the `.part` tail. Multipart parts cannot be removed or
   * shortened, so a cut inside committed parts is refused (all-or-nothing writes never
   * need one).
   */
  async truncate(id: string, offset: number): Promise<void> {
    const state = await this.storedState(id);
    const current = state.committed + state.incomplete;
    if (offset === current) return;
    if (offset === 0) return this.reset(id);
    if (!state.completed && offset > state.committed && offset < current) {
      return this.shortenIncompletePart(id, offset - state.committed);
    }
    if (!state.completed && offset === state.committed && state.incomplete > 0) return this.deleteIncompletePart(id);
    throw new S3TruncateError(
      `cannot truncate S3 upload ${id} to ${offset} bytes: ${state.committed} bytes are in ${state.completed ? 'a completed object' : 'committed multipart parts'}`,
    );
  }

  private async shortenIncompletePart(id: string, length: number): Promise<void> {
    const { Body, Metadata } = await this.client.getObject({ Bucket: this.bucket, Key: this.partKey(id, true), Range: `bytes=0-${length - 1}` });
    // Below S3's minimum part size by construction, so small enough to hold.
    const kept = Buffer.from((await Body?.transformToByteArray()) ?? []);
    const ContentMD5 = createHash('md5').update(kept).digest('base64');
    await this.client.putObject({ Bucket: this.bucket, Key: this.partKey(id, true), Body: kept, ContentMD5, Metadata });
  }

  /**
   * Empties an upload: a new multipart upload, then the info pointing at it, then the old
   * one aborted and the old object and `.part` deleted. In that order a crash never leaves
   * info pointing at a missing multipart upload (which would read as "complete").
   */
  async reset(id: string): Promise<void> {
    const metadata = await this.getMetadata(id);
    const { file } = metadata;
    const created = await this.client.createMultipartUpload({
      Bucket: this.bucket,
      Key: id,
      Metadata: { 'tus-version': TUS_RESUMABLE },
      ...(file.metadata?.contentType ? { ContentType: file.metadata.contentType } : {}),
      ...(file.metadata?.cacheControl ? { CacheControl: file.metadata.cacheControl } : {}),
    });
    if (!created.UploadId) throw new Error(`S3 created no multipart upload for ${id}`);
    await this.saveMetadata(file, created.UploadId);
    await this.clearCache(id);
    await this.abortQuietly(id, metadata['upload-id']);
    await this.deleteKeys([id, this.partKey(id, true)]);
  }

  /** Removes the upload and everything it left in the bucket (the stock store keeps `.part`). */
  override async remove(id: string): Promise<void> {
    let uploadId: string;
    try {
      uploadId = await this.uploadIdOf(id);
    } catch (error) {
      if (isS3NotFound(error)) throw ERRORS.FILE_NOT_FOUND;
      throw error;
    }
    await this.abortQuietly(id, uploadId);
    // Info last: if a step fails, the upload is still known and removal can be retried.
    await this.deleteKeys([id, this.partKey(id, true)]);
    await this.deleteKeys([this.infoKey(id)]);
    await this.clearCache(id);
  }

  /** Every unfinished multipart upload in the bucket. */
  async *multipartUploads(): AsyncGenerator<MultipartListing> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.client.listMultipartUploads({ Bucket: this.bucket, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker });
      for (const u of page.Uploads ?? []) {
        if (u.Key && u.UploadId) yield { key: u.Key, uploadId: u.UploadId, initiated: u.Initiated };
      }
      if (!page.IsTruncated) return;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  }

  /**
   * Aborts multipart uploads older than `olderThanMs` that no upload's info points at (a
   * crash between creating one and saving the info, or during `reset`). They are invisible
   * to tus but S3 keeps, and bills, their parts until aborted.
   */
  async abortOrphans(olderThanMs: number): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let aborted = 0;
    for await (const upload of this.multipartUploads()) {
      if (!upload.initiated || upload.initiated.getTime() > cutoff) continue;
      const current = await this.currentUploadId(upload.key);
      if (current === upload.uploadId) continue;
      await this.abortQuietly(upload.key, upload.uploadId);
      aborted += 1;
    }
    return aborted;
  }

  /** The multipart upload id the info object names, read from S3 (not the cache). */
  private async currentUploadId(id: string): Promise<string | undefined> {
    try {
      const { Metadata } = await this.client.headObject({ Bucket: this.bucket, Key: this.infoKey(id) });
      return Metadata?.['upload-id'];
    } catch (error) {
      if (isS3NotFound(error)) return undefined;
      throw error;
    }
  }

  private async abortQuietly(id: string, uploadId: string): Promise<void> {
    try {
      await this.client.abortMultipartUpload({ Bucket: this.bucket, Key: id, UploadId: uploadId });
    } catch (error) {
      // Completed or already aborted: nothing left to abort.
      if (!isS3NotFound(error)) throw error;
    }
  }

  private async deleteKeys(keys: readonly string[]): Promise<void> {
    const result = await this.client.deleteObjects({
      Bucket: this.bucket,
      Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
    });
    const failed = result.Errors?.[0];
    if (failed) throw new Error(`S3 could not delete ${failed.Key}: ${failed.Code} ${failed.Message}`);
  }
}

/** Runs `send` again (up to PART_ATTEMPTS times in all) while it fails in a way worth resending. */
async function resending<T>(send: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await send();
    } catch (error) {
      if (attempt >= PART_ATTEMPTS || !isWorthResending(error)) throw error;
    }
  }
}
