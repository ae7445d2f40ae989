import { S3 } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { isS3NotFound } from '../../stores/s3/s3-errors.js';
import type { HookOutbox, OutboxRecord } from './hook-outbox.js';

/**
 * Apart from uploads (`<id>`, `<id>.info`, `<id>.part`, `<id>.unverified`): upload ids never start with a dot
 * (isUploadId), so no upload's key can fall under it.
 */
const DEFAULT_PREFIX = '.tessera-hooks/outbox/';
/** Records read from S3 at once by a pass. */
const READS_AT_ONCE = 8;
/** S3's own maximum keys per ListObjectsV2 page. */
const DEFAULT_PAGE_SIZE = 1000;

export interface S3HookOutboxOptions {
  readonly client: S3;
  readonly bucket: string;
  /** Where the records live in the bucket; ends with `/` to keep them in a folder of their own. */
  readonly prefix?: string;
  /** Keys asked for per list request (S3 sends at most 1000 whatever is asked). */
  readonly pageSize?: number;
}

/**
 * Notifications waiting to be delivered, one JSON object each in the upload bucket
 * (`.tessera-hooks/outbox/<event id>.json`): instances on S3 share no disk, so a record kept
 * there outlives the instance that wrote it and any other instance can deliver it. A PUT
 * replaces an object whole, so a record is either whole or absent, and it is stored before
 * the request that caused it is answered.
 */
export class S3HookOutbox implements HookOutbox {
  private readonly client: S3;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly pageSize: number;
  /** Records read before, by key, with the ETag they had then. */
  private readonly known = new Map<string, { readonly etag: string; readonly record: OutboxRecord }>();

  constructor(options: S3HookOutboxOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  }

  async put(record: OutboxRecord): Promise<void> {
    await this.client.putObject({
      Bucket: this.bucket,
      Key: this.keyOf(record.eventId),
      Body: JSON.stringify(record),
      ContentType: 'application/json',
    });
  }

  /** One record, read afresh (undefined once removed, or if it is not whole JSON). */
  get(eventId: string): Promise<OutboxRecord | undefined> {
    return this.read(this.keyOf(eventId));
  }

  /**
   * Every record, oldest first (other objects under the prefix that are not JSON are not records).
   * The delivery pass asks every second: a record whose ETag did not change since it was last read
   * is not read again, and the reads go a few at a time, so a long outbox costs one listing per pass.
   */
  async all(): Promise<OutboxRecord[]> {
    const listed = (await this.list()).filter(({ key }) => key.endsWith('.json'));
    const limit = pLimit(READS_AT_ONCE);
    const records = await Promise.all(
      listed.map(({ key, etag }) =>
        limit(async () => {
          const known = this.known.get(key);
          if (known && etag !== undefined && known.etag === etag) return known.record;
          // Removed between list and read (delivered by another instance meanwhile): read as undefined.
          const record = await this.read(key);
          if (record && etag !== undefined) this.known.set(key, { etag, record });
          return record;
        }),
      ),
    );
    // Forget what is no longer listed (delivered, given up).
    const present = new Set(listed.map(({ key }) => key));
    for (const key of this.known.keys()) if (!present.has(key)) this.known.delete(key);
    return records.filter((r): r is OutboxRecord => r !== undefined).sort((a, b) => a.createdAt - b.createdAt);
  }

  async remove(eventId: string): Promise<void> {
    // S3 answers a DELETE of a missing key with success: removing twice is fine.
    await this.client.deleteObject({ Bucket: this.bucket, Key: this.keyOf(eventId) });
  }

  private keyOf(eventId: string): string {
    // Event ids are `<upload id>:<event>`; escaped, so no id can add a folder (`/`) or leave the prefix.
    return `${this.prefix}${encodeURIComponent(eventId)}.json`;
  }

  private async read(key: string): Promise<OutboxRecord | undefined> {
    let json: string | undefined;
    try {
      const { Body } = await this.client.getObject({ Bucket: this.bucket, Key: key });
      json = await Body?.transformToString();
    } catch (error) {
      if (isS3NotFound(error)) return undefined;
      throw error;
    }
    if (json === undefined) return undefined;
    try {
      const parsed: unknown = JSON.parse(json);
      // `null` or a number is JSON too, but no record: all() would fail sorting it.
      return typeof parsed === 'object' && parsed !== null ? (parsed as OutboxRecord) : undefined;
    } catch {
      return undefined; // not a record (not written by put); S3 never shows half an object
    }
  }

  private async list(): Promise<{ key: string; etag: string | undefined }[]> {
    const keys: { key: string; etag: string | undefined }[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.listObjectsV2({
        Bucket: this.bucket,
        Prefix: this.prefix,
        ContinuationToken: token,
        MaxKeys: this.pageSize,
      });
      keys.push(...(page.Contents ?? []).filter((o) => o.Key).map((o) => ({ key: o.Key as string, etag: o.ETag })));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }
}
