import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { PartFileSplitter, sweepDeadPartFiles, type PartFile } from '../../src/stores/s3/part-files.js';
import { digestOf } from '../support/bytes.js';

/** A body as network chunks of uneven sizes. */
function chunked(data: Buffer, sizes: readonly number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i += 1) {
    const size = sizes[i % sizes.length] as number;
    chunks.push(data.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

describe('PartFileSplitter (S3 part temp files)', () => {
  it('cuts a body into part-sized files, the last one short, with the bytes in order', async () => {
    const data = randomBytes(1_000_003);
    const parts: PartFile[] = [];
    await pipeline(Readable.from(chunked(data, [65_536, 7, 300_001])), new PartFileSplitter(250_000, { onPart: (p) => parts.push(p) }));
    expect(parts.map((p) => p.size)).toEqual([250_000, 250_000, 250_000, 250_000, 3]);
    const stored = Buffer.concat(await Promise.all(parts.map((p) => fs.readFile(p.path))));
    expect(digestOf(stored)).toBe(digestOf(data));
    await Promise.all(parts.map((p) => fs.rm(p.path)));
  });

  it('asks for a slot before each part, and gives back the slot of a part dropped by a body error', async () => {
    const events: string[] = [];
    const parts: PartFile[] = [];
    async function* failing() {
      yield randomBytes(150);
      await new Promise((r) => setTimeout(r, 50));
      throw new Error('client went away');
    }
    let abandoned: string | undefined;
    const splitter = new PartFileSplitter(100, {
      beforePart: async () => {
        events.push('slot');
      },
      onPart: (p) => {
        events.push(`part ${p.size}`);
        parts.push(p);
      },
      onAbandon: (path) => {
        abandoned = path;
        events.push('abandoned');
      },
    });
    await expect(pipeline(Readable.from(failing()), splitter)).rejects.toThrow('client went away');
    if (!splitter.closed) await new Promise((resolve) => splitter.once('close', resolve));
    expect(events).toEqual(['slot', 'part 100', 'slot', 'abandoned']);
    // The finished part stays (its upload owns it); the dropped one is gone.
    expect((await fs.stat(parts[0]?.path ?? '')).size).toBe(100);
    await expect(fs.stat(abandoned ?? '')).rejects.toMatchObject({ code: 'ENOENT' });
    await Promise.all(parts.map((p) => fs.rm(p.path)));
  });
});

describe('sweepDeadPartFiles', () => {
  it('removes the part files of processes that are gone, and nothing else', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-part-sweep-'));
    try {
      // A pid that no longer runs: a child that has exited.
      const child = spawn(process.execPath, ['-e', '']);
      const deadPid = child.pid as number;
      await new Promise((resolve) => child.once('exit', resolve));
      const names = [`tessera-s3-part-${deadPid}-0a1b2c3d4e5f6a7b`, `tessera-s3-part-${process.pid}-0a1b2c3d4e5f6a7b`, 'tessera-s3-part-legacy', 'unrelated'];
      for (const name of names) await fs.writeFile(path.join(dir, name), 'x');
      expect(await sweepDeadPartFiles(dir)).toBe(1);
      expect((await fs.readdir(dir)).sort()).toEqual(names.slice(1).sort());
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
