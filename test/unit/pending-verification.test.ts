import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PendingVerification } from '../../src/stores/file/pending-verification.js';

describe('PendingVerification (notes of checksummed chunks not yet verified)', () => {
  let dir: string;
  const note = (id: string) => path.join(dir, `${id}.unverified`);

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-notes-'));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  it('as the only writer: finds the notes a crashed predecessor left, and its own, without looking for others', async () => {
    await fs.writeFile(note('left-by-crash'), '1024');
    const pending = new PendingVerification(dir, true);
    expect(await pending.offsetOf('left-by-crash')).toBe(1024);
    expect(await pending.offsetOf('clean')).toBeUndefined();
    await pending.mark('mine', 2048);
    expect(await pending.offsetOf('mine')).toBe(2048);
    await pending.clear('mine');
    await pending.clear('left-by-crash');
    expect(await pending.offsetOf('mine')).toBeUndefined();
    expect(await fs.readdir(dir)).toEqual([]);
    // Written behind its back: unseen (the directory is this process's alone).
    await fs.writeFile(note('foreign'), '7');
    expect(await pending.offsetOf('foreign')).toBeUndefined();
  });

  it('with other writers (a shared directory): every look reads the disk', async () => {
    const pending = new PendingVerification(dir, false);
    expect(await pending.offsetOf('other')).toBeUndefined();
    await fs.writeFile(note('other'), '7');
    expect(await pending.offsetOf('other')).toBe(7);
    // A note cut short by the crash that left it: nothing of the upload is trusted.
    await fs.writeFile(note('other'), '');
    expect(await pending.offsetOf('other')).toBe(0);
  });
});
