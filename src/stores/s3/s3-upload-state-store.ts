import { S3 } from '@aws-sdk/client-s3';
import { RememberedJson } from '../../caching/remembered-json.js';
import { KeyedMutex } from '../../tus/state/keyed-mutex.js';
import type { UploadState, UploadStateStore } from '../../tus/state/upload-state.js';
import { isUploadId } from '../../tus/request-target.js';
import { isS3NotFound } from './s3-errors.js';

/** Where the records live in the bucket, apart from uploads (`<id>`, `<id>.info`, `<id>.part`). */
const PREFIX = '.tessera-state/';
const REMEMBERED_KEYS = 10_000;

export interface S3UploadStateStoreOptions {
  /** A client of its own: the upload store's client forgets its per-request reads on every write. */
  readonly client: S3;
  readonly bucket: string;
  /** This process alone serves the bucket (embedded mode): records are remembered in memory. */
  readonly soleWriter: boolean;
  /**
   * Where retry claims live (they need an atomic create, which not every S3 implementation
   * offers): Redis in shared mode, the local disk when embedded.
   */
  readonly claims: Pick<UploadStateStore, 'claim' | 'claimed' | 'release' | 'ping'>;
  /** Records earlier versions kept there: read when the bucket has none, removed with the upload. */
  readonly earlier?: UploadStateStore;
}

/**
 * Lifecycle records of S3 uploads as objects in the upload's own bucket
 * (`.tessera-state/upload-<id>.json`), so they live and die with the data: a Redis that restarts
 * empty, or an instance's lost disk, loses none. Partial → final links are one empty object each.
 * Records change only at creation, under the upload's lock, or by compare-and-set moves that
 * tolerate a lost lock (see UploadStateStore); a PUT replaces an object whole.
 */
export class S3UploadStateStore implements UploadStateStore {
  private readonly mutex = new KeyedMutex();
  private readonly remembered: RememberedJson | undefined;

  constructor(private readonly options: S3UploadStateStoreOptions) {
    this.remembered = options.soleWriter ? new RememberedJson(REMEMBERED_KEYS) : undefined;
  }

  async get(id: string): Promise<UploadState | undefined> {
    const key = this.recordKey(id);
    const json = this.remembered ? await this.remembered.read(key, () => this.readObject(key)) : await this.readObject(key);
    if (json !== null) return JSON.parse(json) as UploadState;
    return this.options.earlier?.get(id);
  }

  async ids(): Promise<string[]> {
    const keys = await this.list(`${PREFIX}upload-`);
    const ids = keys.map((key) => key.slice(`${PREFIX}upload-`.length, -'.json'.length));
    return [...new Set([...ids, ...((await this.options.earlier?.ids()) ?? [])])];
  }

  update(id: string, change: (current: UploadState | undefined) => UploadState | undefined): Promise<UploadState | undefined> {
    const key = this.recordKey(id);
    return this.mutex.run(key, async () => {
      const next = change(await this.get(id));
      if (next === undefined) await this.removeRecord(id);
      else await this.save(key, JSON.stringify(next));
      return next;
    });
  }

  async delete(id: string): Promise<void> {
    await this.mutex.run(this.recordKey(id), () => this.removeRecord(id));
    for (const key of await this.list(this.linksPrefix(id))) await this.deleteObject(key);
  }

  async link(partialId: string, finalId: string): Promise<void> {
    const key = `${this.linksPrefix(partialId)}${safe(finalId)}`;
    await this.options.client.putObject({ Bucket: this.options.bucket, Key: key, Body: '' });
    // The partial may have been deleted meanwhile (its DELETE listed its links before this one):
    // a link under a gone partial would never be removed.
    if ((await this.get(partialId)) === undefined) await this.deleteObject(key);
  }

  async linkedFinals(partialId: string): Promise<string[]> {
    const prefix = this.linksPrefix(partialId);
    const linked = (await this.list(prefix)).map((key) => key.slice(prefix.length));
    const state = await this.get(partialId);
    const older = state?.kind === 'partial' ? (state.finals ?? []) : [];
    const earlier = (await this.options.earlier?.linkedFinals(partialId)) ?? [];
    return [...new Set([...older, ...earlier, ...linked])];
  }

  claim(key: string, value: string): Promise<string> {
    return this.options.claims.claim(key, value);
  }

  claimed(key: string): Promise<string | undefined> {
    return this.options.claims.claimed(key);
  }

  release(key: string, value: string): Promise<void> {
    return this.options.claims.release(key, value);
  }

  async ping(): Promise<void> {
    await this.options.claims.ping();
  }

  private recordKey(id: string): string {
    return `${PREFIX}upload-${safe(id)}.json`;
  }

  private linksPrefix(partialId: string): string {
    return `${PREFIX}links/${safe(partialId)}/`;
  }

  private async removeRecord(id: string): Promise<void> {
    const key = this.recordKey(id);
    const remove = () => this.deleteObject(key);
    await (this.remembered ? this.remembered.change(key, null, remove) : remove());
    await this.options.earlier?.delete(id);
  }

  private async save(key: string, json: string): Promise<void> {
    const put = async () => {
      await this.options.client.putObject({ Bucket: this.options.bucket, Key: key, Body: json, ContentType: 'application/json' });
    };
    await (this.remembered ? this.remembered.change(key, json, put) : put());
  }

  private async readObject(key: string): Promise<string | null> {
    try {
      const { Body } = await this.options.client.getObject({ Bucket: this.options.bucket, Key: key });
      return (await Body?.transformToString()) ?? null;
    } catch (error) {
      if (isS3NotFound(error)) return null;
      throw error;
    }
  }

  private async deleteObject(key: string): Promise<void> {
    await this.options.client.deleteObject({ Bucket: this.options.bucket, Key: key });
  }

  private async list(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.options.client.listObjectsV2({ Bucket: this.options.bucket, Prefix: prefix, ContinuationToken: token });
      keys.push(...(page.Contents ?? []).map((o) => o.Key ?? '').filter(Boolean));
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }
}

/** Ids name objects here: only what can be an upload id, so no key leaves its place. */
function safe(id: string): string {
  if (!isUploadId(id)) throw new Error(`not an upload id: ${id.slice(0, 60)}`);
  return id;
}
