import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { s3Errors } from './errors.js';
import type { StoredSegment } from './files.js';

export interface ObjectRecord {
  readonly key: string;
  readonly size: number;
  /** Quoted, as S3 sends it: "<md5 hex>" or "<md5 of part md5s>-<parts>". */
  readonly etag: string;
  readonly lastModified: Date;
  readonly contentType: string;
  readonly cacheControl: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  /** The bytes, in order: one file, or the parts of a completed multipart upload (S3 does not copy them either). */
  readonly segments: readonly StoredSegment[];
}

export interface PartRecord {
  readonly partNumber: number;
  readonly size: number;
  readonly etag: string;
  readonly lastModified: Date;
  readonly file: string;
}

export interface UploadRecord {
  readonly key: string;
  readonly uploadId: string;
  readonly initiated: Date;
  readonly contentType: string;
  readonly cacheControl: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  readonly parts: Map<number, PartRecord>;
}

export interface BucketRecord {
  readonly name: string;
  readonly created: Date;
  readonly objects: Map<string, ObjectRecord>;
  readonly uploads: Map<string, UploadRecord>;
}

/** Bucket names as S3 accepts them for new buckets (general purpose buckets). */
const BUCKET_NAME = /^(?!xn--)(?!.*\.\.)(?!\d+\.\d+\.\d+\.\d+$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Buckets, objects and multipart uploads: the index lives in memory (one throw-away
 * process), the bytes in files under `dir`, never rewritten: replacing or deleting an object
 * unlinks its files, which readers that opened them keep reading.
 */
export class Storage {
  private readonly buckets = new Map<string, BucketRecord>();
  private readonly dataDir: string;

  constructor(dir: string) {
    this.dataDir = path.join(dir, 'data');
    fs.mkdirSync(this.dataDir, { recursive: true });
  }

  /** A fresh file path for incoming bytes. */
  newFile(): string {
    return path.join(this.dataDir, randomBytes(12).toString('hex'));
  }

  async discard(file: string): Promise<void> {
    await fsp.rm(file, { force: true });
  }

  createBucket(name: string): BucketRecord {
    if (!BUCKET_NAME.test(name)) throw s3Errors.invalidBucketName(name);
    if (this.buckets.has(name)) throw s3Errors.bucketAlreadyOwnedByYou(name);
    const bucket: BucketRecord = { name, created: new Date(), objects: new Map(), uploads: new Map() };
    this.buckets.set(name, bucket);
    return bucket;
  }

  bucket(name: string): BucketRecord {
    const bucket = this.buckets.get(name);
    if (!bucket) throw s3Errors.noSuchBucket(name);
    return bucket;
  }

  listBuckets(): BucketRecord[] {
    return [...this.buckets.values()].sort((a, b) => compareKeys(a.name, b.name));
  }

  deleteBucket(name: string): void {
    const bucket = this.bucket(name);
    if (bucket.objects.size > 0 || bucket.uploads.size > 0) throw s3Errors.bucketNotEmpty(name);
    this.buckets.delete(name);
  }

  /** Stores (or replaces) an object; the replaced object's bytes are removed. */
  async putObject(bucket: BucketRecord, record: ObjectRecord): Promise<void> {
    const previous = bucket.objects.get(record.key);
    bucket.objects.set(record.key, record);
    if (previous) await Promise.all(previous.segments.map((s) => this.discard(s.file)));
  }

  async deleteObject(bucket: BucketRecord, key: string): Promise<void> {
    const previous = bucket.objects.get(key);
    bucket.objects.delete(key);
    if (previous) await Promise.all(previous.segments.map((s) => this.discard(s.file)));
  }

  upload(bucket: BucketRecord, key: string, uploadId: string): UploadRecord {
    const upload = bucket.uploads.get(uploadId);
    if (!upload || upload.key !== key) throw s3Errors.noSuchUpload(uploadId);
    return upload;
  }

  async putPart(upload: UploadRecord, part: PartRecord): Promise<void> {
    const previous = upload.parts.get(part.partNumber);
    upload.parts.set(part.partNumber, part);
    if (previous) await this.discard(previous.file);
  }

  /** Forgets a multipart upload and removes every part it held. */
  async dropUpload(bucket: BucketRecord, upload: UploadRecord): Promise<void> {
    bucket.uploads.delete(upload.uploadId);
    await Promise.all([...upload.parts.values()].map((p) => this.discard(p.file)));
  }
}

/** S3 lists keys in UTF-8 binary order. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
