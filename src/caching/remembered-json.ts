import { LRUCache } from 'lru-cache';

/**
 * The last known JSON text of recently used keys whose documents one process alone writes
 * (embedded mode), so reading them costs no file-system round trips; null remembers that a
 * key has no document. Every change goes through `change`, so what is remembered is never
 * stale, and a read that overlapped a change is not remembered: it may be older than it.
 */
export class RememberedJson {
  private readonly known: LRUCache<string, { readonly json: string | null }>;
  private changes = 0;

  constructor(maxKeys: number) {
    this.known = new LRUCache({ max: maxKeys });
  }

  /** The remembered text, or what `load` reads from where the documents are kept. */
  async read(key: string, load: () => Promise<string | null>): Promise<string | null> {
    const remembered = this.known.get(key);
    if (remembered) return remembered.json;
    const changesBefore = this.changes;
    const json = await load();
    if (this.changes === changesBefore) this.known.set(key, { json });
    return json;
  }

  /**
   * Runs `save`, which makes `json` (null: no document) what the key holds. Unknown while it
   * runs, and after it failed (the write may or may not have landed).
   */
  async change(key: string, json: string | null, save: () => Promise<void>): Promise<void> {
    // Counted at both ends: a read that began while `save` ran may have loaded the old text and
    // finish after this change remembered the new one; it must not overwrite it.
    this.changes += 1;
    this.known.delete(key);
    try {
      await save();
    } finally {
      this.changes += 1;
    }
    this.known.set(key, { json });
  }
}
