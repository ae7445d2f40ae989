import { describe, expect, it } from 'vitest';
import { RememberedJson } from '../../src/caching/remembered-json.js';

/** A promise and the function that settles it: the test decides the order of events. */
function gate<T>(): { promise: Promise<T>; open(value: T): void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

describe('RememberedJson', () => {
  it('remembers what was read, and what a change wrote', async () => {
    const cache = new RememberedJson(10);
    let loads = 0;
    const load = async () => (loads++, '"a"');
    expect(await cache.read('k', load)).toBe('"a"');
    expect(await cache.read('k', load)).toBe('"a"');
    expect(loads).toBe(1);
    await cache.change('k', '"b"', async () => undefined);
    expect(await cache.read('k', load)).toBe('"b"');
    expect(loads).toBe(1);
  });

  it('never lets a read that began during a change overwrite what the change wrote', async () => {
    const cache = new RememberedJson(10);
    const saving = gate<void>();
    const loading = gate<string | null>();
    const changed = cache.change('k', '"new"', () => saving.promise);
    // Begins while the save runs and loads the old text...
    const staleRead = cache.read('k', () => loading.promise);
    // ...the save lands and the change remembers the new text...
    saving.open();
    await changed;
    // ...then the old text arrives.
    loading.open('"old"');
    expect(await staleRead).toBe('"old"');
    expect(await cache.read('k', async () => '"from disk"')).toBe('"new"');
  });

  it('does not remember a read that began before a change and ended after it', async () => {
    const cache = new RememberedJson(10);
    const loading = gate<string | null>();
    const read = cache.read('k', () => loading.promise);
    await cache.change('k', '"new"', async () => undefined);
    loading.open(null);
    expect(await read).toBeNull();
    expect(await cache.read('k', async () => '"from disk"')).toBe('"new"');
  });
});
