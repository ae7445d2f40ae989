import type { KvStore } from '@tus/utils';
import { LRUCache } from 'lru-cache';

/**
 * @tus/utils' MemoryKvStore with a bound: the `max` most recently used entries stay, older ones
 * are dropped (read again from their store when next asked). MemoryKvStore is a Map that keeps
 * an entry for every upload the process ever saw.
 */
export class LruKvStore<T extends object> implements KvStore<T> {
  private readonly entries: LRUCache<string, T>;

  constructor(max: number) {
    this.entries = new LRUCache<string, T>({ max });
  }

  async get(key: string): Promise<T | undefined> {
    return this.entries.get(key);
  }

  async set(key: string, value: T): Promise<void> {
    this.entries.set(key, value);
  }

  async delete(key: string): Promise<void> {
    this.entries.delete(key);
  }

  async list(): Promise<string[]> {
    return [...this.entries.keys()];
  }
}
