import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { KeyedMutex } from './keyed-mutex.js';
import type { UploadState, UploadStateStore } from './upload-state.js';

const reSafeKey = /^[A-Za-z0-9._-]+$/;

/**
 * Upload state as one JSON file per key, for the single-instance embedded mode. Writes go
 * to a temp file and are renamed into place, so a crash never leaves half a record.
 */
export class FileUploadStateStore implements UploadStateStore {
  private readonly mutex = new KeyedMutex();

  constructor(private readonly directory: string) {
    fs.mkdirSync(directory, { recursive: true });
  }

  async get(id: string): Promise<UploadState | undefined> {
    return this.read<UploadState>(`upload-${id}`);
  }

  update(
    id: string,
    change: (current: UploadState | undefined) => UploadState | undefined,
  ): Promise<UploadState | undefined> {
    const key = `upload-${id}`;
    return this.mutex.run(key, async () => {
      const next = change(await this.read<UploadState>(key));
      if (next === undefined) await this.remove(key);
      else await this.write(key, next);
      return next;
    });
  }

  delete(id: string): Promise<void> {
    const key = `upload-${id}`;
    return this.mutex.run(key, () => this.remove(key));
  }

  claim(key: string, value: string): Promise<string> {
    const file = `claim-${key}`;
    return this.mutex.run(file, async () => {
      const existing = await this.read<string>(file);
      if (existing !== undefined) return existing;
      await this.write(file, value);
      return value;
    });
  }

  release(key: string, value: string): Promise<void> {
    const file = `claim-${key}`;
    return this.mutex.run(file, async () => {
      if ((await this.read<string>(file)) === value) await this.remove(file);
    });
  }

  async ping(): Promise<void> {
    await fsp.access(this.directory, fs.constants.W_OK);
  }

  private pathOf(key: string): string {
    if (!reSafeKey.test(key)) throw new Error(`unsafe state key: ${key}`);
    return path.join(this.directory, `${key}.json`);
  }

  private async read<T>(key: string): Promise<T | undefined> {
    try {
      return JSON.parse(await fsp.readFile(this.pathOf(key), 'utf8')) as T;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  private async write(key: string, value: unknown): Promise<void> {
    const target = this.pathOf(key);
    const temp = `${target}.${randomUUID()}.tmp`;
    await fsp.writeFile(temp, JSON.stringify(value));
    await fsp.rename(temp, target);
  }

  private async remove(key: string): Promise<void> {
    await fsp.rm(this.pathOf(key), { force: true });
  }
}
