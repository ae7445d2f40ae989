import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FileKvStore, Upload } from '@tus/utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CachedInfoStore } from '../../src/stores/file/cached-info-store.js';

describe('CachedInfoStore (upload info in memory in front of the info files)', () => {
  let dir: string;
  let files: FileKvStore<Upload>;
  const infoFile = (id: string) => path.join(dir, `${id}.json`);
  const upload = (id: string, size?: number) => new Upload({ id, size, offset: 0, metadata: { name: 'a.bin' }, creation_date: '2026-11-22T15:00:00.000Z' });

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-info-cache-'));
    files = new FileKvStore<Upload>(dir);
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('saves to the file and answers later reads from memory, as a read of the file would', async () => {
    const store = new CachedInfoStore(files, 10);
    await store.set('u1', upload('u1', 100));
    const fromFile = await files.get('u1');
    // Gone from disk behind the store's back (only this process may write the directory): memory still answers.
    await fs.rm(infoFile('u1'));
    expect(await store.get('u1')).toEqual(fromFile);
    expect(await store.get('missing')).toBeUndefined();
  });

  it('reads an info file once, then from memory', async () => {
    await files.set('u2', upload('u2', 5));
    const store = new CachedInfoStore(files, 10);
    expect((await store.get('u2'))?.size).toBe(5);
    await fs.writeFile(infoFile('u2'), JSON.stringify({ ...upload('u2', 6) }));
    expect((await store.get('u2'))?.size).toBe(5);
  });

  it('hands out copies: a caller editing what it read changes nothing until it saves', async () => {
    const store = new CachedInfoStore(files, 10);
    await store.set('u3', upload('u3'));
    const read = await store.get('u3');
    if (!read) throw new Error('no info');
    read.size = 42;
    expect((await store.get('u3'))?.size).toBeUndefined();
    await store.set('u3', read);
    expect((await store.get('u3'))?.size).toBe(42);
    expect((await files.get('u3'))?.size).toBe(42);
  });

  it('a save that fails on disk is not kept in memory either: reads show what the disk holds', async () => {
    const store = new CachedInfoStore(files, 10);
    await store.set('u4', upload('u4', 1));
    await fs.rm(infoFile('u4'));
    await fs.mkdir(infoFile('u4')); // a directory where the file goes: the write fails (EISDIR)
    await expect(store.set('u4', upload('u4', 2))).rejects.toThrow();
    // Not the unsaved size 2: the read goes to disk, which has no readable info.
    expect(await store.get('u4')).toBeUndefined();
  });

  it('does not remember a read that overlapped a save: it may be older than the save', async () => {
    // The read gets the old info from disk, then is held until the save has happened.
    let readDone = () => {};
    const readFinished = new Promise<void>((resolve) => {
      readDone = resolve;
    });
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const slowReads: typeof files = Object.assign(Object.create(files) as typeof files, {
      get: async (id: string) => {
        const value = await files.get(id);
        readDone();
        await held;
        return value;
      },
    });
    await files.set('r', upload('r', 1));
    const store = new CachedInfoStore(slowReads, 10);
    const reading = store.get('r');
    await readFinished;
    await store.set('r', upload('r', 2));
    release();
    expect((await reading)?.size).toBe(1);
    expect((await store.get('r'))?.size).toBe(2);
  });

  it('forgets the least recently used beyond its size, and deleted uploads at once', async () => {
    const store = new CachedInfoStore(files, 2);
    for (const id of ['a', 'b', 'c']) await store.set(id, upload(id, 1));
    await fs.rm(infoFile('a'));
    expect(await store.get('a')).toBeUndefined(); // evicted, so read from disk, where it is gone
    await fs.writeFile(infoFile('c'), JSON.stringify({ ...upload('c', 9) }));
    expect((await store.get('c'))?.size).toBe(1); // still in memory
    await store.delete('c');
    expect(await store.get('c')).toBeUndefined();
    await fs.writeFile(path.join(dir, 'b'), ''); // the file store lists uploads with data and info
    expect(await store.list()).toEqual(['b']);
  });
});
