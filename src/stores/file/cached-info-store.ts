import type { KvStore, Upload } from '@tus/utils';
import { LRUCache } from 'lru-cache';

/**
 * Upload info kept in memory in front of the store that persists it, for the recently used
 * uploads. Every tus request reads its upload's info; from a file that is four thread-pool
 * round trips (open, stat, read, close), which cost more CPU than the rest of a small PATCH's
 * store work (profiled).
 *
 * Only for a directory one process owns (embedded mode): every change then goes through this
 * store, so the memory copy is never stale. Callers get copies (the stock store edits the
 * info it reads before saving it), and a failed save leaves nothing in memory: the next read
 * goes to the disk, whatever the failed write left there.
 */
export class CachedInfoStore implements KvStore<Upload> {
  private readonly recent: LRUCache<string, Upload>;
  /** Saves and deletions so far: a read that overlapped one may be older than it. */
  private changes = 0;

  constructor(
    private readonly persisted: KvStore<Upload>,
    maxEntries: number,
  ) {
    this.recent = new LRUCache({ max: maxEntries });
  }

  async get(id: string): Promise<Upload | undefined> {
    const cached = this.recent.get(id);
    if (cached) return copy(cached);
    const changesBefore = this.changes;
    const stored = await this.persisted.get(id);
    if (stored && this.changes === changesBefore) this.recent.set(id, copy(stored));
    return stored;
  }

  async set(id: string, info: Upload): Promise<void> {
    this.changes += 1;
    this.recent.delete(id);
    await this.persisted.set(id, info);
    this.recent.set(id, copy(info));
  }

  async delete(id: string): Promise<void> {
    this.changes += 1;
    this.recent.delete(id);
    await this.persisted.delete(id);
  }

  list(): Promise<string[]> {
    return this.persisted.list?.() ?? Promise.resolve([]);
  }
}

/** What a save and a later read from disk would give: JSON's view of the info. */
function copy(info: Upload): Upload {
  return JSON.parse(JSON.stringify(info)) as Upload;
}
