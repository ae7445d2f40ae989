import { describe, expect, it } from 'vitest';
import { LruKvStore } from '../../src/caching/lru-kv-store.js';

describe('LruKvStore (the S3 info cache when embedded)', () => {
  it('keeps the most recently used entries up to its bound, dropping the oldest', async () => {
    const store = new LruKvStore<{ n: number }>(3);
    for (const key of ['a', 'b', 'c']) await store.set(key, { n: key.charCodeAt(0) });
    expect(await store.get('a')).toEqual({ n: 97 }); // a is now the most recent
    await store.set('d', { n: 100 });
    expect(await store.get('b')).toBeUndefined();
    expect((await store.list()).sort()).toEqual(['a', 'c', 'd']);
    await store.delete('a');
    expect(await store.get('a')).toBeUndefined();
  });
});
