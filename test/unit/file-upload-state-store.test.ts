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
    const first = new FileUploadStateStore(dir);
    await first.update('a', () => ({ kind: 'partial', finals: ['f1'] }));
    await first.update('b', () => ({ kind: 'single', status: 'done' }));
    await first.delete('b');
    const next = new FileUploadStateStore(dir);
    expect(await next.get('a')).toEqual({ kind: 'partial', finals: ['f1'] });
    expect(await next.get('b')).toBeUndefined();
    expect(await fs.readdir(dir)).toEqual(['upload-a.json']);
  });

  it('remembers what it read or wrote last, absent records too (it is the only writer)', async () => {
    const store = new FileUploadStateStore(dir);
    expect(await store.get('c')).toBeUndefined();
    await store.update('d', () => ({ kind: 'single', status: 'done' }));
    // Changed behind its back: the store still answers what it knows; a fresh one reads the files.
    await fs.writeFile(fileOf('c'), JSON.stringify({ kind: 'single', status: 'failed' }));
    await fs.rm(fileOf('d'));
    expect(await store.get('c')).toBeUndefined();
    expect(await store.get('d')).toEqual({ kind: 'single', status: 'done' });
    const fresh = new FileUploadStateStore(dir);
    expect(await fresh.get('c')).toEqual({ kind: 'single', status: 'failed' });
    expect(await fresh.get('d')).toBeUndefined();
  });

  it('a write that fails leaves it reading the disk again', async () => {
    const store = new FileUploadStateStore(dir);
    await store.update('e', () => ({ kind: 'partial', finals: [] }));
    await fs.rm(fileOf('e'));
    await fs.mkdir(fileOf('e')); // a directory where the record goes: the rename fails
    await expect(store.update('e', () => ({ kind: 'single', status: 'done' }))).rejects.toThrow();
    await fs.rmdir(fileOf('e'));
    expect(await store.get('e')).toBeUndefined();
  });

  it('claims a key once until its owner releases it', async () => {
    const store = new FileUploadStateStore(dir);
    expect(await store.claim('final-1', 'x')).toBe('x');
    expect(await store.claim('final-1', 'y')).toBe('x');
    await store.release('final-1', 'y'); // not the owner: no effect
    expect(await new FileUploadStateStore(dir).claim('final-1', 'z')).toBe('x');
    await store.release('final-1', 'x');
    expect(await store.claim('final-1', 'z')).toBe('z');
  });
});
