import type { KvStore, Upload } from '@tus/utils';
import { RememberedJson } from '../../caching/remembered-json.js';

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
  private readonly remembered: RememberedJson;

  constructor(
    private readonly persisted: KvStore<Upload>,
    maxEntries: number,
  ) {
    this.remembered = new RememberedJson(maxEntries);
  }

  async get(id: string): Promise<Upload | undefined> {
    // Text, parsed on every read: callers get their own copy, as from a file.
    const json = await this.remembered.read(id, async () => {
      const stored = await this.persisted.get(id);
      return stored ? JSON.stringify(stored) : null;
    });
    return json === null ? undefined : (JSON.parse(json) as Upload);
  }

  set(id: string, info: Upload): Promise<void> {
    return this.remembered.change(id, JSON.stringify(info), () => this.persisted.set(id, info));
  }

  delete(id: string): Promise<void> {
    return this.remembered.change(id, null, () => this.persisted.delete(id));
  }

  list(): Promise<string[]> {
    return this.persisted.list?.() ?? Promise.resolve([]);
  }
}
