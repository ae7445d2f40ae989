import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { RememberedJson } from '../../caching/remembered-json.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { UploadState, UploadStateStore } from './upload-state.js';

const reSafeKey = /^[A-Za-z0-9._-]+$/;
// Records (or their absence) of this many recently used keys stay in memory.
const REMEMBERED_KEYS = 10_000;

/**
 * Upload state as one JSON file per key, for the single-instance embedded mode. Writes go
 * to a temp file and are renamed into place, so a crash never leaves half a record.
 * Every request reads its upload's record, and most uploads have none: what was read or
 * written last is remembered (this process is the directory's only writer), so a request
 * pays no file-system round trips for it (an absent file alone costs ~0.1 ms of CPU).
 */
export class FileUploadStateStore implements UploadStateStore {
  private readonly mutex = new KeyedMutex();
  private readonly remembered = new RememberedJson(REMEMBERED_KEYS);

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
    const json = await this.remembered.read(key, () => this.readFile(key));
    return json === null ? undefined : (JSON.parse(json) as T);
  }

  private async readFile(key: string): Promise<string | null> {
    try {
      return await fsp.readFile(this.pathOf(key), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  private write(key: string, value: unknown): Promise<void> {
    const target = this.pathOf(key);
    const temp = `${target}.${randomUUID()}.tmp`;
    const json = JSON.stringify(value);
    return this.remembered.change(key, json, async () => {
      await fsp.writeFile(temp, json);
      await fsp.rename(temp, target);
    });
  }

  private remove(key: string): Promise<void> {
    return this.remembered.change(key, null, () => fsp.rm(this.pathOf(key), { force: true }));
  }
}
