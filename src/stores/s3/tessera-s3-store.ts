import { createHash } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { Part, S3, UploadPartCommandOutput } from '@aws-sdk/client-s3';
import { S3Store, type MetadataValue } from '@tus/s3-store';
import { ERRORS, TUS_RESUMABLE, Upload } from '@tus/utils';
import { isMissingUpload, isS3NotFound, isS3Refusal, isWorthResending, S3DamagedPartError, S3TruncateError } from './s3-errors.js';
import type { PartFile } from './part-files.js';
import { storedAsSent } from './part-etag.js';
import { partLayout, type PartLayout } from './part-layout.js';
import type { ByteRange } from '../store-adapter.js';
import { pipeParts } from './part-pipeline.js';
import { discardStaged, joinStreams, stageBody } from './staged-body.js';

/** User metadata of the `.part` tail: the number of the part its bytes will become (see putTail). */
const TAIL_PART_META = 'tessera-next-part';
/** User metadata of the `<id>.unverified` mark: the first part number of the write that streams parts (see markUnverified). */
const UNVERIFIED_FROM_META = 'tessera-unverified-from';

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
 * The `.part` tail, given the parts that count (see putTail): none; stale (its bytes are in the
 * part it was tagged for, which counts); an orphan (tagged for a part after a hole: written by a
 * write whose earlier part failed, its bytes do not follow the counted ones); or live, the bytes
 * right after the counted parts. Tails of earlier versions carry no tag and are live.
 */
export type TailState = { readonly kind: 'none' } | { readonly kind: 'stale' } | { readonly kind: 'orphan' } | { readonly kind: 'live'; readonly size: number };

/** What S3 holds of an unfinished upload's bytes, read once (see snapshotOf). */
export interface PartsSnapshot {
  /** Parts as listed. */
  readonly parts: readonly Part[];
  /** From the `<id>.unverified` mark: streamed parts from this number on were not all checked (see markUnverified). */
  readonly unverifiedFrom: number | undefined;
  readonly layout: PartLayout;
  readonly tail: TailState;
}

/**
 * What reading an unfinished upload saw in S3: its info and its parts snapshot. Handed back to
 * a write of the same upload under the same lock (TesseraS3Store.readUpload), which starts
 * from it instead of reading S3 again.
 */
export interface SeenInS3 {
  readonly info: MetadataValue;
  readonly snapshot: PartsSnapshot;
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
  /** What the write of an upload under way starts from (see SeenInS3), by upload id like `declaredBodies`. */
  private readonly startingPoints = new Map<string, SeenInS3>();

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
   * `seen` to the write that follows, sparing that write 3 to 4 S3 round trips (the info, the
   * parts, the tail and the mark, read again). Nothing is seen of a completed upload.
   */
  async readUpload(id: string): Promise<{ upload: Upload; seen: SeenInS3 | undefined }> {
    let info: MetadataValue;
    try {
      info = await this.getMetadata(id);
    } catch {
      throw ERRORS.FILE_NOT_FOUND;
    }
    let snapshot: PartsSnapshot;
    try {
      snapshot = await this.snapshotOf(info);
    } catch (error) {
      // The multipart upload was completed (or aborted): the info says it is whole.
      if (!isMissingUpload(error)) throw error;
      const { file } = info;
      return { upload: new Upload({ ...file, offset: file.size ?? 0, size: file.size }), seen: undefined };
    }
    const committed = snapshot.layout.countedBytes;
    const { size } = info.file;
    if (snapshot.tail.kind !== 'live' && size !== undefined && size > 0 && committed === size) {
      // Every byte is in a part but the multipart upload was never completed: the last write's
      // CompleteMultipartUpload failed, or the process died before it. Complete it now (whoever
      // reads first; completing twice is harmless), or the object would never exist.
      await this.finishMultipartUpload(info, [...snapshot.layout.counted]);
      await this.completeMetadata(info.file);
      return { upload: new Upload({ ...info.file, offset: size, size }), seen: undefined };
    }
    return { upload: new Upload({ ...info.file, offset: committed + liveSize(snapshot.tail), size }), seen: { info, snapshot } };
  }

  /**
   * Reads what S3 holds of an unfinished upload: its parts (throws NoSuchUpload once it was
   * completed), the `.part` tail and the unverified mark (these two at once).
   */
  private async snapshotOf(info: MetadataValue): Promise<PartsSnapshot> {
    const id = info.file.id;
    const parts = await this.listParts(info);
    const [tailHead, unverifiedFrom] = await Promise.all([this.headIfThere(this.partKey(id, true)), this.unverifiedFrom(id)]);
    const layout = partLayout(parts, unverifiedFrom);
    return { parts, unverifiedFrom, layout, tail: tailStateOf(tailHead, layout) };
  }

  /** What a write starts from: what readUpload saw (once), or a fresh read. */
  private async startOf(id: string): Promise<SeenInS3> {
    const seen = this.startingPoints.get(id);
    if (seen) {
      this.startingPoints.delete(id);
      return seen;
    }
    const info = await this.getMetadata(id);
    return { info, snapshot: await this.snapshotOf(info) };
  }

  /** HeadObject, or undefined when the object is not there. */
  private async headIfThere(key: string): Promise<{ ContentLength?: number; Metadata?: Record<string, string> } | undefined> {
    try {
      return await this.client.headObject({ Bucket: this.bucket, Key: key });
    } catch (error) {
      if (isS3NotFound(error)) return undefined;
      throw error;
    }
  }

  /**
   * Completes the multipart upload with `parts`, the parts that count (see part-layout): voided
   * parts and any after a hole are left out, and S3 drops them. Someone else may have completed
   * it first (a read of the upload that found every byte in parts, see readUpload): then the
   * object is there, and that is success.
   */
  protected override async finishMultipartUpload(metadata: MetadataValue, parts: Part[]): Promise<string | undefined> {
    try {
      return await super.finishMultipartUpload(metadata, parts);
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

  /** An unfinished upload's multipart upload and its parts, by part number (NoSuchUpload once it was completed). */
  async partsOf(id: string): Promise<{ readonly multipartUpload: string; readonly parts: readonly Part[] }> {
    const info = await this.getMetadata(id);
    return { multipartUpload: info['upload-id'], parts: await this.listParts(info) };
  }

  /**
   * Completes an upload whose parts a client sent (S3_DIRECT): its length is declared first, then
   * the multipart upload completed with `parts`. In that order a crash in between leaves an upload
   * whose counted parts hold its whole length, which the next read completes (readUpload).
   */
  async completeWith(id: string, parts: readonly Part[], size: number): Promise<void> {
    await this.declareUploadLength(id, size);
    await this.clearCache(id);
    try {
      await this.finishMultipartUpload(await this.getMetadata(id), [...parts]);
    } catch (error) {
      // S3 refused the parts (replaced meanwhile by the client: InvalidPart, EntityTooSmall): the
      // length goes again, so the upload is not left declared whole with parts that cannot make it.
      if (isS3Refusal(error)) {
        await this.declareUploadLength(id, undefined as unknown as number);
        await this.clearCache(id);
      }
      throw error;
    }
    await this.clearCache(id);
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

  /** Runs a write of `id` that starts from `seen` (when given) instead of reading S3 again (see startOf). */
  private async startingFrom<T>(id: string, seen: SeenInS3 | undefined, write: () => Promise<T>): Promise<T> {
    if (!seen) return write();
    this.startingPoints.set(id, seen);
    try {
      return await write();
    } finally {
      this.startingPoints.delete(id);
    }
  }

  /**
   * @tus/s3-store's write, with the `.part` tail handed over safely. The stock write deleted the
   * tail before the bytes it carries were stored again: a body cut short before its first part
   * was in (a client gone, a lock handed over) lost bytes an earlier 204 had acknowledged, and
   * the offset went back. Here the tail stays until the first new part holding its bytes is
   * stored (or a new tail replaced it), and a write that stored nothing changes nothing.
   */
  override async write(src: Readable, id: string, offset: number): Promise<number> {
    const { info: metadata, snapshot } = await this.startOf(id);
    const firstPart = snapshot.layout.nextPartNumber;
    const tail = snapshot.tail.kind === 'live' ? await this.downloadIncompletePart(id) : undefined;
    await this.clearDebris(metadata, snapshot);
    const source = tail ? joinStreams(tail.createReader({ cleanUpOnEnd: true }), src) : src;
    const start = offset - (tail?.size ?? 0);
    const handOver = { firstPart, firstPartStored: false, tailReplaced: false };
    const direct = this.directBytes(metadata, start);
    // Streamed parts are checked only once stored: until they are, the mark says they do not count.
    if (direct !== undefined) await this.markUnverified(id, firstPart);
    const streamed: StreamOutcome = { unknownFrom: undefined };
    let stored: number;
    try {
      stored = await this.pipeBody(metadata, source, firstPart, start, handOver, direct, streamed);
    } finally {
      try {
        if (direct !== undefined) await this.settleUnverified(id, streamed);
      } finally {
        // The old tail's bytes now live in the first new part: the tail must not count twice
        // (if this fails, its tag says it is stale).
        if (tail && handOver.firstPartStored && !handOver.tailReplaced) await this.deleteIncompletePart(id);
      }
    }
    const newOffset = stored > 0 ? start + stored : offset;
    if (metadata.file.size === newOffset) {
      await this.finishMultipartUpload(metadata, [...partLayout(await this.retrieveParts(id)).counted]);
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
  private async streamPart(
    metadata: MetadataValue,
    body: Readable,
    partNumber: number,
    size: number,
    signal: AbortSignal,
    sentMd5: () => Buffer,
    outcome: StreamOutcome,
  ): Promise<void> {
    // Whether S3 kept the part is unknown unless it answered (or the part was given up, cut short).
    const unknown = () => {
      outcome.unknownFrom = Math.min(outcome.unknownFrom ?? partNumber, partNumber);
    };
    let stored: UploadPartCommandOutput;
    try {
      stored = await this.client.uploadPart(
        { Bucket: this.bucket, Key: metadata.file.id, UploadId: metadata['upload-id'], PartNumber: partNumber, Body: body, ContentLength: size },
        { abortSignal: signal },
      );
    } catch (error) {
      if (!signal.aborted && !isS3Answer(error)) unknown();
      throw error;
    }
    const check = storedAsSent(stored, sentMd5());
    if (check === 'same') return;
    if (check === 'unknown') this.streamParts = false;
    try {
      await this.voidPart(metadata, partNumber);
    } catch (error) {
      unknown();
      throw error;
    }
    throw new S3DamagedPartError(
      check === 'unknown'
        ? `S3 gave part ${partNumber} of ${metadata.file.id} an ETag that is no MD5 (KMS or customer-key encryption, or a store of another kind): parts now go through temp files with Content-MD5`
        : `S3 stored part ${partNumber} of ${metadata.file.id} with ETag ${stored.ETag}, not the MD5 of the bytes sent (${sentMd5().toString('hex')})`,
    );
  }

  /** Streamed parts are checked against their ETags (see streamPart); false once S3 showed ETags that are no MD5. */
  private streamParts = true;

  /** Overwrites a part with an empty one: S3 cannot delete a part, and an empty part never counts (see part-layout). */
  private async voidPart(metadata: MetadataValue, partNumber: number): Promise<void> {
    await resending(() =>
      this.client.uploadPart({
        Bucket: this.bucket,
        Key: metadata.file.id,
        UploadId: metadata['upload-id'],
        PartNumber: partNumber,
        Body: Buffer.alloc(0),
        ContentLength: 0,
        ContentMD5: EMPTY_MD5,
      }),
    );
  }

  /**
   * What an earlier write left that must not count and must not linger: a stale or orphaned
   * tail (an orphan would come to look live once the counted parts reach its tag), non-empty
   * parts after the counted ones (voided, see part-layout), and the unverified mark (once the
   * parts it covered are voided).
   */
  private async clearDebris(metadata: MetadataValue, snapshot: PartsSnapshot): Promise<void> {
    const id = metadata.file.id;
    if (snapshot.tail.kind === 'stale' || snapshot.tail.kind === 'orphan') await this.deleteIncompletePart(id);
    await this.voidLeftovers(metadata, snapshot.layout.leftovers);
    if (snapshot.unverifiedFrom !== undefined) await this.deleteKeys([this.unverifiedKey(id)]);
  }

  /**
   * The unverified mark, `<id>.unverified`, written before a write streams parts: a part
   * streamed from the request cannot carry Content-MD5, and is checked against its ETag only
   * once S3 has stored it. If the process dies in between, or cannot void a damaged part, the
   * mark stays and parts from `fromPart` on do not count until a later write voids them.
   */
  private async markUnverified(id: string, fromPart: number): Promise<void> {
    await this.client.putObject({ Bucket: this.bucket, Key: this.unverifiedKey(id), Body: '', ContentMD5: EMPTY_MD5, Metadata: { [UNVERIFIED_FROM_META]: String(fromPart) } });
  }

  /** After a write that streamed parts: the mark goes when every one was checked; otherwise it narrows to the first in doubt. */
  private async settleUnverified(id: string, outcome: StreamOutcome): Promise<void> {
    if (outcome.unknownFrom === undefined) await this.deleteKeys([this.unverifiedKey(id)]);
    else await this.markUnverified(id, outcome.unknownFrom);
  }

  /** The unverified mark's first part, when there is a mark. */
  private async unverifiedFrom(id: string): Promise<number | undefined> {
    const head = await this.headIfThere(this.unverifiedKey(id));
    if (!head) return undefined;
    // Unreadable: nothing streamed can be trusted.
    return Number(head.Metadata?.[UNVERIFIED_FROM_META]) || 1;
  }

  private unverifiedKey(id: string): string {
    return `${id}.unverified`;
  }

  /**
   * Voids the parts after a hole before a write fills it: once the hole is filled they would
   * join the counted run, with bytes that belong elsewhere (see part-layout).
   */
  private async voidLeftovers(metadata: MetadataValue, leftovers: readonly Part[]): Promise<void> {
    for (const part of leftovers) await this.voidPart(metadata, part.PartNumber ?? 0);
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
    handOver: { readonly firstPart: number; firstPartStored: boolean; tailReplaced: boolean },
    expectedBytes: number | undefined,
    streamed: StreamOutcome,
  ): Promise<number> {
    const stored = <T>(partNumber: number, upload: Promise<T>): Promise<T> =>
      upload.then((result) => {
        if (partNumber === handOver.firstPart) handOver.firstPartStored = true;
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
        handOver.tailReplaced = true;
        return etag;
      },
      direct:
        expectedBytes === undefined
          ? undefined
          : {
              expectedBytes,
              uploadPart: (body, partNumber, size, signal, sentMd5) => stored(partNumber, this.streamPart(metadata, body, partNumber, size, signal, sentMd5, streamed)),
            },
    });
  }

  /**
   * Bytes of the stream that starts at `streamStart` (the `.part` tail carried in front of the
   * body, plus the body) when whole parts of it will stream straight to S3: the body has a
   * declared length, it makes at least one whole part, and streamed parts can be checked.
   */
  private directBytes(metadata: MetadataValue, streamStart: number): number | undefined {
    const body = this.declaredBodies.get(metadata.file.id);
    if (!body || body.offset < streamStart || !this.streamParts) return undefined;
    const bytes = body.offset - streamStart + body.length;
    return bytes >= this.calcOptimalPartSize(metadata.file.size) ? bytes : undefined;
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
    const { info: metadata, snapshot } = await this.startOf(id);
    const { layout } = snapshot;
    const incomplete = snapshot.tail.kind === 'live' ? await this.downloadIncompletePart(id) : undefined;
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
        await this.clearDebris(metadata, snapshot);
        await this.commitStaged(metadata, staged, layout.nextPartNumber, offset - carried, carried > 0);
      }
    } finally {
      await discardStaged(staged);
    }
    if (metadata.file.size === newOffset) {
      await this.finishMultipartUpload(metadata, [...partLayout(await this.retrieveParts(id)).counted]);
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
    const info = await this.getMetadata(id);
    try {
      const { layout, tail } = await this.snapshotOf(info);
      return { committed: layout.countedBytes, incomplete: liveSize(tail), completed: false };
    } catch (error) {
      if (!isMissingUpload(error)) throw error;
      return { committed: info.file.size ?? 0, incomplete: 0, completed: true };
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
    await this.deleteKeys([id, this.partKey(id, true), this.unverifiedKey(id)]);
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
    await this.deleteKeys([id, this.partKey(id, true), this.unverifiedKey(id)]);
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

/** Whether a write's streamed parts were all checked: the first part number S3 may hold unchecked, if any. */
interface StreamOutcome {
  unknownFrom: number | undefined;
}

/** An error S3 answered (it did not store the request's bytes), unlike a connection that failed with the outcome unknown. */
function isS3Answer(error: unknown): boolean {
  return typeof (error as { $metadata?: { httpStatusCode?: unknown } })?.$metadata?.httpStatusCode === 'number';
}

/** Bytes the tail adds to the offset. */
function liveSize(tail: TailState): number {
  return tail.kind === 'live' ? tail.size : 0;
}

/** The tail's state from its HeadObject (see TailState). */
function tailStateOf(head: { ContentLength?: number; Metadata?: Record<string, string> } | undefined, layout: PartLayout): TailState {
  if (!head) return { kind: 'none' };
  const taggedFor = Number(head.Metadata?.[TAIL_PART_META]);
  if (!(taggedFor > 0) || taggedFor === layout.nextPartNumber) return { kind: 'live', size: head.ContentLength ?? 0 };
  return taggedFor < layout.nextPartNumber ? { kind: 'stale' } : { kind: 'orphan' };
}
