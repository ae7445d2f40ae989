import fsp from 'node:fs/promises';
import path from 'node:path';
import { ERRORS, isPathInsideDirectory, type KvStore, type Upload } from '@tus/utils';
import { readTextIfExists, writeTextAtomically } from './text-files.js';

/**
 * Upload info as `<id>.json` beside the upload's data, written crash-consistently: to a temp
 * file renamed into place, so a reader (another instance on the shared volume) or a restart
 * after a crash sees the old info or the new, never half of one. Replaces @tus/utils'
 * FileKvStore, which writes in place and reads a torn file as "no such upload" (a 404).
 */
export class AtomicInfoStore implements KvStore<Upload> {
  constructor(private readonly directory: string) {}

  async get(id: string): Promise<Upload | undefined> {
    const text = await readTextIfExists(this.pathOf(id));
    return text === null ? undefined : (JSON.parse(text) as Upload);
  }

  set(id: string, info: Upload): Promise<void> {
    return writeTextAtomically(this.pathOf(id), JSON.stringify(info));
  }

  async delete(id: string): Promise<void> {
    await fsp.rm(this.pathOf(id), { force: true });
  }

  /** Ids that have both their data and their info (as @tus/utils' FileKvStore lists them). */
  async list(): Promise<string[]> {
    const names = new Set(await fsp.readdir(this.directory));
    return [...names].filter((name) => name.endsWith('.json') && !name.startsWith('.') && names.has(name.slice(0, -5))).map((name) => name.slice(0, -5)).sort();
  }

  private pathOf(id: string): string {
    const file = path.resolve(this.directory, `${id}.json`);
    if (!isPathInsideDirectory(this.directory, file)) throw ERRORS.FILE_NOT_FOUND;
    return file;
  }
}
