import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileUploadStateStore } from '../../src/tus/state/file-upload-state-store.js';

describe('FileUploadStateStore (embedded upload state, one JSON file per record)', () => {
  let dir: string;
  const fileOf = (id: string) => path.join(dir, `upload-${id}.json`);

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-state-'));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('keeps records on disk: a new process (store) reads what the last one wrote and deleted', async () => {
    const first = new FileUploadStateStore({ directory: dir, soleWriter: true });
    await first.update('a', () => ({ kind: 'partial', finals: ['f1'] }));
    await first.update('b', () => ({ kind: 'single', status: 'done' }));
    await first.delete('b');
    const next = new FileUploadStateStore({ directory: dir, soleWriter: true });
    expect(await next.get('a')).toEqual({ kind: 'partial', finals: ['f1'] });
    expect(await next.get('b')).toBeUndefined();
    expect((await fs.readdir(dir)).sort()).toEqual(['links', 'upload-a.json']);
  });

  it('remembers what it read or wrote last, absent records too (it is the only writer)', async () => {
    const store = new FileUploadStateStore({ directory: dir, soleWriter: true });
    expect(await store.get('c')).toBeUndefined();
    await store.update('d', () => ({ kind: 'single', status: 'done' }));
    // Changed behind its back: the store still answers what it knows; a fresh one reads the files.
    await fs.writeFile(fileOf('c'), JSON.stringify({ kind: 'single', status: 'failed' }));
    await fs.rm(fileOf('d'));
    expect(await store.get('c')).toBeUndefined();
    expect(await store.get('d')).toEqual({ kind: 'single', status: 'done' });
    const fresh = new FileUploadStateStore({ directory: dir, soleWriter: true });
    expect(await fresh.get('c')).toEqual({ kind: 'single', status: 'failed' });
    expect(await fresh.get('d')).toBeUndefined();
  });

  it('a write that fails leaves it reading the disk again', async () => {
    const store = new FileUploadStateStore({ directory: dir, soleWriter: true });
    await store.update('e', () => ({ kind: 'partial', finals: [] }));
    await fs.rm(fileOf('e'));
    await fs.mkdir(fileOf('e')); // a directory where the record goes: the rename fails
    await expect(store.update('e', () => ({ kind: 'single', status: 'done' }))).rejects.toThrow();
    await fs.rmdir(fileOf('e'));
    expect(await store.get('e')).toBeUndefined();
  });

  it('claims a key once until its owner releases it', async () => {
    const store = new FileUploadStateStore({ directory: dir, soleWriter: true });
    expect(await store.claim('final-1', 'x')).toBe('x');
    expect(await store.claim('final-1', 'y')).toBe('x');
    await store.release('final-1', 'y'); // not the owner: no effect
    expect(await new FileUploadStateStore({ directory: dir, soleWriter: true }).claim('final-1', 'z')).toBe('x');
    await store.release('final-1', 'x');
    expect(await store.claim('final-1', 'z')).toBe('z');
  });

  it('keeps every link of finals to a partial, made at once by stores sharing the directory', async () => {
    const [a, b] = [0, 1].map(() => new FileUploadStateStore({ directory: dir, soleWriter: false }));
    await a?.update('p', () => ({ kind: 'partial', finals: ['older'] }));
    await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b)?.link('p', `f${i}`)));
    expect((await b?.linkedFinals('p'))?.sort()).toEqual(['older', ...Array.from({ length: 20 }, (_, i) => `f${i}`)].sort());
    await a?.delete('p');
    expect(await b?.linkedFinals('p')).toEqual([]);
  });

  it('lets exactly one of several stores sharing the directory win a claim, and the others read it whole', async () => {
    const stores = [0, 1, 2, 3, 4, 5].map(() => new FileUploadStateStore({ directory: dir, soleWriter: false }));
    for (let round = 0; round < 30; round++) {
      // A claim written in place could be read empty by a loser (JSON.parse throws: a 500).
      const winners = await Promise.all(stores.map((store, i) => store.claim(`final-${round}`, `v${i}`)));
      expect(new Set(winners).size).toBe(1);
    }
  });

  it('shared: reads every record from the directory (another instance may have changed it)', async () => {
    const [a, b] = [0, 1].map(() => new FileUploadStateStore({ directory: dir, soleWriter: false }));
    expect(await b?.get('s')).toBeUndefined();
    await a?.update('s', () => ({ kind: 'single', status: 'done' }));
    expect(await b?.get('s')).toEqual({ kind: 'single', status: 'done' });
    await a?.delete('s');
    expect(await b?.get('s')).toBeUndefined();
  });

});
