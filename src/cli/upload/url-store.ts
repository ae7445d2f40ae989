import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { PreviousUpload, UrlStorage } from 'tus-js-client';

interface StoredEntry extends Omit<PreviousUpload, 'urlStorageKey'> {
  readonly fingerprint: string;
  /** ms since the epoch; creationTime (Date#toString) has only seconds. */
  readonly storedAt: number;
}

/**
 * tus-js-client's UrlStorage kept on disk: one small JSON file per upload in
 * `<dir>/uploads/`, written to a temp name and renamed into place, so concurrent CLI runs
 * never corrupt each other's entries and a kill mid-write leaves no half file behind.
 */
export class FileUrlStore implements UrlStorage {
  private readonly dir: string;

  constructor(stateDir: string) {
    this.dir = path.join(stateDir, 'uploads');
  }

  async findAllUploads(): Promise<PreviousUpload[]> {
    return this.read(() => true);
  }

  /** Newest first. */
  async findUploadsByFingerprint(fingerprint: string): Promise<PreviousUpload[]> {
    const prefix = `${keyPrefix(fingerprint)}-`;
    return this.read((name) => name.startsWith(prefix), fingerprint);
  }

  async removeUpload(urlStorageKey: string): Promise<void> {
    if (!/^[0-9a-f]{32}-[0-9a-f-]{36}$/.test(urlStorageKey)) return;
    await fs.rm(path.join(this.dir, `${urlStorageKey}.json`), { force: true });
  }

  async addUpload(fingerprint: string, upload: PreviousUpload): Promise<string> {
    const key = `${keyPrefix(fingerprint)}-${randomUUID()}`;
    const entry: StoredEntry = {
      fingerprint,
      storedAt: Date.now(),
      size: upload.size,
      metadata: upload.metadata,
      creationTime: upload.creationTime,
      uploadUrl: upload.uploadUrl ?? null,
      parallelUploadUrls: upload.parallelUploadUrls ?? null,
    };
    await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const temp = path.join(this.dir, `.${key}.tmp`);
    await fs.writeFile(temp, `${JSON.stringify(entry, null, 2)}\n`, { mode: 0o600 });
    await fs.rename(temp, path.join(this.dir, `${key}.json`));
    return key;
  }

  /** Forgets every stored upload of this file (after it was verified, or when it is stale). */
  async removeByFingerprint(fingerprint: string): Promise<void> {
    for (const upload of await this.findUploadsByFingerprint(fingerprint)) await this.removeUpload(upload.urlStorageKey);
  }

  private async read(accept: (name: string) => boolean, fingerprint?: string): Promise<PreviousUpload[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    const found: (PreviousUpload & { storedAt: number })[] = [];
    for (const name of names) {
      if (!name.endsWith('.json') || name.startsWith('.') || !accept(name)) continue;
      const entry = await readEntry(path.join(this.dir, name));
      if (!entry || (fingerprint !== undefined && entry.fingerprint !== fingerprint)) continue;
      const { fingerprint: _fingerprint, ...upload } = entry;
      found.push({ ...upload, urlStorageKey: name.slice(0, -'.json'.length) });
    }
    return found.sort((a, b) => b.storedAt - a.storedAt);
  }
}

/** Entries are named by a hash of the fingerprint: it holds a path and a URL. */
function keyPrefix(fingerprint: string): string {
  return createHash('sha256').update(fingerprint).digest('hex').slice(0, 32);
}

async function readEntry(file: string): Promise<StoredEntry | undefined> {
  try {
    const entry = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<StoredEntry>;
    const urls = entry.parallelUploadUrls;
    const validUrls = Array.isArray(urls) && urls.length > 0 && urls.every((u) => typeof u === 'string');
    if (typeof entry.fingerprint !== 'string' || (typeof entry.uploadUrl !== 'string' && !validUrls)) return undefined;
    return { ...entry, storedAt: typeof entry.storedAt === 'number' ? entry.storedAt : 0 } as StoredEntry;
  } catch {
    // Removed meanwhile by another run, or damaged by hand: not an upload to resume.
    return undefined;
  }
}
