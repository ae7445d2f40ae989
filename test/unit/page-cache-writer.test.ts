import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PageCacheWriter } from '../../src/stores/file/page-cache-writer.js';

/** The file store's writer (issue #20): synchronous writes into the page cache, asynchronous once the disk pushes back. */
describe('PageCacheWriter', () => {
  let dir: string;
  let file: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-writer-'));
    file = path.join(dir, 'upload');
    await fs.writeFile(file, Buffer.from('0123456789'));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  const chunks = (data: Buffer, size: number) => Readable.from((function* () {
    for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
  })());

  it('writes a body at its offset, chunk after chunk, counting what it stored, and closes the file', async () => {
    const data = randomBytes(1024 * 1024 + 7);
    const writer = new PageCacheWriter(file, 10);
    const closed = new Promise<void>((resolve) => writer.once('close', resolve));
    await pipeline(chunks(data, 64 * 1024), writer);
    await closed;
    expect(writer.bytesWritten).toBe(data.length);
    expect((await fs.readFile(file)).equals(Buffer.concat([Buffer.from('0123456789'), data]))).toBe(true);
  });

  it('a write slower than the limit sends this writer, and every writer for a second, to asynchronous writes; the bytes are the same', async () => {
    const data = randomBytes(512 * 1024);
    const slow = new PageCacheWriter(file, 0, -1);
    await pipeline(chunks(data, 64 * 1024), slow);
    expect(PageCacheWriter.synchronousNow).toBe(false);
    expect(slow.bytesWritten).toBe(data.length);
    expect((await fs.readFile(file)).equals(data)).toBe(true);
    // Another writer meanwhile writes asynchronously too, and just as right.
    const other = new PageCacheWriter(file, 3);
    await pipeline(chunks(Buffer.from('abc'), 1), other);
    const after = await fs.readFile(file);
    expect(after.subarray(3, 6).toString()).toBe('abc');
    expect(after.subarray(6).equals(data.subarray(6))).toBe(true);
  });

  it('a file that is not there fails at once', () => {
    expect(() => new PageCacheWriter(path.join(dir, 'missing'), 0)).toThrow(/ENOENT/);
  });
});
