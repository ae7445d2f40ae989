import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileStoreAdapter } from '../../src/stores/file/file-store-adapter.js';

/**
 * Finals are assembled into temp files under `.tessera-assembly/` and renamed into place. A
 * crash leaves such a temp behind, so an assembly first removes the stale ones of its final,
 * but never one still being written: in shared mode that may be another instance's assembly
 * of the same final (locks lost with Redis's data), and removing it broke that assembly.
 * A named pipe stands in for a partial here so that an assembly can be held mid-way for real.
 */
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('assembly temp files on the file store', () => {
  let dir: string;
  const assemblyDir = () => path.join(dir, '.tessera-assembly');
  const temps = async () => (await fs.readdir(assemblyDir())).sort();

  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'tessera-assembly-'));
  });
  afterEach(() => fs.rm(dir, { recursive: true, force: true }));

  const leaveTemp = async (name: string, ageMs: number) => {
    const file = path.join(assemblyDir(), name);
    await fs.writeFile(file, 'half an assembly');
    const when = new Date(Date.now() - ageMs);
    await fs.utimes(file, when, when);
  };

  const untilTempExists = async () => {
    while ((await temps()).length === 0) await new Promise((resolve) => setImmediate(resolve));
  };

  for (const soleWriter of [false, true]) {
    it(`an assembly running ${soleWriter ? 'in this process' : 'on another instance'} keeps its temp while a second assembly of the same final runs`, async () => {
      const first = new FileStoreAdapter({ directory: dir, expiryMs: 0, soleWriter });
      const second = soleWriter ? first : new FileStoreAdapter({ directory: dir, expiryMs: 0, soleWriter });
      const data = randomBytes(2 * 1024 * 1024);
      await fs.writeFile(path.join(dir, 'p-file'), data);
      execFileSync('mkfifo', [path.join(dir, 'p-pipe')]);

      // The first assembly opens its temp, then waits for the pipe's bytes.
      const held = first.concatenate('fin', ['p-pipe']);
      await untilTempExists();
      const other = await second.concatenate('fin', ['p-file']);
      expect(other).toEqual({ bytes: data.length, sha256: sha256(data) });
      await fs.writeFile(path.join(dir, 'p-pipe'), data);

      expect(await held).toEqual({ bytes: data.length, sha256: sha256(data) });
      expect(sha256(await fs.readFile(path.join(dir, 'fin')))).toBe(sha256(data));
      expect(await temps()).toEqual([]);
    });
  }

  it('shared mode: an assembly removes its final\'s temps left untouched for 10 minutes, not younger ones nor other finals\'', async () => {
    const adapter = new FileStoreAdapter({ directory: dir, expiryMs: 0, soleWriter: false });
    await leaveTemp('fin.dead', 11 * 60 * 1000);
    await leaveTemp('fin.young', 60 * 1000);
    await leaveTemp('other.dead', 11 * 60 * 1000);
    await fs.writeFile(path.join(dir, 'p'), 'abc');
    await adapter.concatenate('fin', ['p']);
    expect(await temps()).toEqual(['fin.young', 'other.dead']);
  });

  it('embedded mode: an assembly removes every temp of its final that this process is not writing', async () => {
    const adapter = new FileStoreAdapter({ directory: dir, expiryMs: 0, soleWriter: true });
    await leaveTemp('fin.crashed', 1000);
    await leaveTemp('other.crashed', 1000);
    await fs.writeFile(path.join(dir, 'p'), 'abc');
    await adapter.concatenate('fin', ['p']);
    expect(await temps()).toEqual(['other.crashed']);
  });

  it('removing the upload removes all its temps, however young', async () => {
    const adapter = new FileStoreAdapter({ directory: dir, expiryMs: 0, soleWriter: false });
    await leaveTemp('fin.young', 0);
    await leaveTemp('other.young', 0);
    await adapter.removeLeftovers('fin');
    expect(await temps()).toEqual(['other.young']);
  });
});
