import type { Readable } from 'node:stream';
import type { DataStore, Upload } from '@tus/utils';

/**
 * What a store saw reading an upload, opaque to everyone but that store: a write of the same
 * upload under the same lock hands it back, and the store starts from it instead of reading
 * again (see StoreAdapter.readUpload).
 */
export type SeenReads = object;

/** The headers a store's download URL answers with. */
export interface DownloadAnswer {
  readonly contentType: string;
  readonly contentDisposition: string;
}

/** Bytes `start` to `end` of a file, both included (as in HTTP's Range). */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/** A part of a multipart upload as the store holds it. */
export interface StoredPart {
  readonly partNumber: number;
  readonly etag: string;
  readonly size: number;
}

/**
 * Parts a client sends straight to the store (S3_DIRECT): the store signs one URL per part of an
 * unfinished upload and completes the upload from the parts it holds; the server never carries
 * the bytes.
 */
export interface PresignedParts {
  /** The store's multipart upload behind an unfinished upload (what the client is told). */
  multipartUploadOf(id: string): Promise<string>;
  /**
   * A URL good for `expiresInS` for one PUT of part `partNumber` of upload `id` (multipart upload
   * `multipartUpload`); with `contentMd5` (base64) the URL is only good for a body of that MD5,
   * so the store itself refuses a part damaged on the way.
   */
  signPart(
    id: string,
    multipartUpload: string,
    partNumber: number,
    options: { readonly contentMd5?: string; readonly contentLength?: number; readonly expiresInS: number },
  ): Promise<string>;
  /** The parts stored so far, by part number. */
  listParts(id: string, multipartUpload: string): Promise<readonly StoredPart[]>;
  /**
   * Completes the upload from exactly the stored parts `parts` names (1..n, each with the ETag the
   * store gave it); the upload's length becomes their sum, which is returned. A sum beyond
   * `maxSize` (when > 0), judged on the very listing completed from, is ERR_MAX_SIZE_EXCEEDED.
   */
  complete(id: string, multipartUpload: string, parts: readonly { readonly partNumber: number; readonly etag: string }[], maxSize: number): Promise<number>;
  /** The origin part URLs point at (a browser page must be allowed to connect there). */
  storageOrigin(): Promise<string>;
}

/**
 * What Tessera needs from a storage backend beyond @tus/utils' DataStore: the narrow set
 * of capabilities the extensions (checksum rollback, assembly, expiry) are built on.
 */
export interface StoreAdapter {
  readonly kind: 'file' | 's3';
  /** The @tus store that does the actual I/O. */
  readonly datastore: DataStore;
  /** Ids of every upload the store knows, for expiry sweeps. */
  listUploadIds(): Promise<string[]>;
  /**
   * Whether `truncate` can take back any suffix of what a write stored. S3 cannot (committed
   * parts and a completed object are final): bodies whose end is not known in advance are
   * then written all-or-nothing.
   */
  readonly rollsBackExactly: boolean;
  /** Drops every stored byte at and after `offset` (a chunk that failed verification). */
  truncate(id: string, offset: number): Promise<void>;
  /** Streams an upload's stored bytes: all of them, or only `range` of a complete upload. */
  read(id: string, range?: ByteRange): Readable | Promise<Readable>;
  /** When a complete upload's bytes were last written (they never change after). */
  modifiedAt(id: string): Promise<Date>;
  /**
   * Optional: a URL that serves a complete upload's bytes straight from the store for
   * `expiresInMs`, answering with the given Content-Type and Content-Disposition (S3: a
   * presigned GetObject; ranges and conditional requests go to S3).
   */
  downloadUrl?(id: string, answer: DownloadAnswer, expiresInMs: number): Promise<string>;
  /** Throws when the store cannot take writes (readiness). */
  checkWritable(): Promise<void>;
  /** Optional: the error says the store cannot be reached now (answered 503, retry later), not that the request is wrong. */
  unreachable?(error: unknown): boolean;
  /**
   * Optional: stores a body all-or-nothing, changing nothing unless the stream ends without
   * an error; the checksum guard asks for it. S3 needs it because it cannot `truncate` (a
   * multipart part cannot be taken back; `truncate` is a no-op there); the file store uses it
   * so that a chunk cut short by a crash is never counted as stored.
   */
  writeAllOrNothing?(stream: Readable, id: string, offset: number, seen?: SeenReads): Promise<number>;
  /**
   * Optional: stores a body whose length the request declared (`length`, Content-Length) at
   * `offset`; S3 sends the whole parts it will hold straight to UploadPart. Plain
   * `datastore.write` otherwise.
   */
  writeDeclared?(stream: Readable, id: string, offset: number, length: number, seen?: SeenReads): Promise<number>;
  /**
   * Optional: reads an upload with what the store saw reading it. The writes above accept
   * `seen` back when they follow under the same lock, with nothing changed in between
   * (S3: 2 to 3 round trips less per PATCH). `datastore.getUpload` otherwise.
   */
  readUpload?(id: string): Promise<{ upload: Upload; seen: SeenReads | undefined }>;
  /**
   * Optional: builds a final upload's bytes from its complete partials inside the store
   * (S3: UploadPartCopy), returning the final's length and SHA-256 (hex). Without it the
   * assembler streams the partials through the server.
   */
  concatenate?(finalId: string, partialIds: readonly string[]): Promise<{ bytes: number; sha256: string }>;
  /** Optional: removes what a crash left of an upload's work (a half-assembled final), once it is removed. */
  removeLeftovers?(id: string): Promise<void>;
  /** Optional: removes leftovers older than `olderThanMs` that no upload owns; returns how many. */
  sweepOrphans?(olderThanMs: number): Promise<number>;
  /** Optional: parts sent by clients straight to the store (S3_DIRECT). */
  readonly presignedParts?: PresignedParts;
}
