import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { RememberedJson } from '../../caching/remembered-json.js';
import { readTextIfExists, writeTextAtomically } from '../../stores/file/text-files.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { UploadState, UploadStateStore } from './upload-state.js';

const reSafeKey = /^[A-Za-z0-9._-]+$/;
// Records (or their absence) of this many recently used keys stay in memory.
const REMEMBERED_KEYS = 10_000;

export interface FileUploadStateStoreOptions {
  /** The directory, beside the uploads' data (`<DATA_DIR>/.tessera-state`). */
  readonly directory: string;
  /**
   * This process alone writes the directory (embedded mode): records are then remembered in
   * memory. Instances sharing a volume read every record from it.
   */
  readonly soleWriter: boolean;
}

/**
 * Lifecycle records as one JSON file per upload, beside the uploads' data, so that they live
 * and die with it (losing Redis in shared mode loses none). Writes go to a temp file renamed
 * into place: a crash or a reader on another instance never sees half a record. Links of
 * partials to finals are empty files in a directory per partial, created at once; claims are
 * hard links of a complete temp file, which fail when the claim exists (atomic on a local disk
 * and on NFS).
 */
export class FileUploadStateStore implements UploadStateStore {
  private readonly mutex = new KeyedMutex();
  private readonly remembered: RememberedJson | undefined;
  private readonly directory: string;

  constructor(options: FileUploadStateStoreOptions) {
    this.directory = options.directory;
    this.remembered = options.soleWriter ? new RememberedJson(REMEMBERED_KEYS) : undefined;
    fs.mkdirSync(path.join(this.directory, 'links'), { recursive: true });
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

  async delete(id: string): Promise<void> {
    const key = `upload-${id}`;
    await this.mutex.run(key, () => this.remove(key));
    // A final may be linking itself to this partial at this moment (on any instance): the
    // directory can gain an entry while it is being removed. Bounded retries. A link made after
    // the removal leaves a directory for a partial that is gone: nothing reads it, and the final
    // that made it fails when it finds no partial.
    for (let attempt = 1; ; attempt++) {
      try {
        await fsp.rm(this.linksOf(id), { recursive: true, force: true });
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOTEMPTY' || attempt === 5) throw error;
      }
    }
  }

  async ids(): Promise<string[]> {
    const ids: string[] = [];
    for (const name of await fsp.readdir(this.directory)) {
      const match = /^upload-(.+)\.json$/.exec(name);
      if (match?.[1]) ids.push(match[1]);
    }
    return ids;
  }

  async link(partialId: string, finalId: string): Promise<void> {
    const links = this.linksOf(partialId);
    // The partial's deletion (on any instance) may remove the directory between the two steps:
    // make it again (bounded). The final finds the partial gone when it is completed, and fails.
    for (let attempt = 1; ; attempt++) {
      try {
        await fsp.mkdir(links, { recursive: true });
        await fsp.writeFile(path.join(links, this.safe(finalId)), '');
        // The partial may have been deleted meanwhile (its DELETE removed its links before this
        // one): a link under a gone partial would never be removed.
        if ((await this.get(partialId)) === undefined) await fsp.rm(links, { recursive: true, force: true });
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || attempt === 5) throw error;
      }
    }
  }

  async linkedFinals(partialId: string): Promise<string[]> {
    const linked = await fsp.readdir(this.linksOf(partialId)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return [];
      throw error;
    });
    const state = await this.get(partialId);
    const older = state?.kind === 'partial' ? (state.finals ?? []) : [];
    return [...new Set([...older, ...linked])];
  }

  claim(key: string, value: string): Promise<string> {
    const file = this.pathOf(`claim-${key}`);
    return this.mutex.run(file, async () => {
      // Bounded: each round either creates the claim or reads one that exists; a claim released
      // between the two (by another instance) sends the round again.
      for (let round = 0; round < 10; round++) {
        // Written whole to a temp file, then linked into place: link() fails if the claim exists,
        // so of two instances claiming at once exactly one succeeds, and a claim is never seen
        // half written (an exclusive create would show the other instance an empty file).
        const temp = `${file}.${randomUUID()}.tmp`;
        try {
          await fsp.writeFile(temp, JSON.stringify(value));
          await fsp.link(temp, file);
          return value;
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
        } finally {
          await fsp.rm(temp, { force: true });
        }
        const existing = await fsp.readFile(file, 'utf8').catch(() => null);
        if (existing !== null) return JSON.parse(existing) as string;
      }
      throw new Error(`claim ${key} kept changing`);
    });
  }

  async claimed(key: string): Promise<string | undefined> {
    const existing = await readTextIfExists(this.pathOf(`claim-${key}`));
    return existing === null ? undefined : (JSON.parse(existing) as string);
  }

  release(key: string, value: string): Promise<void> {
    const file = this.pathOf(`claim-${key}`);
    return this.mutex.run(file, async () => {
      const existing = await fsp.readFile(file, 'utf8').catch(() => null);
      if (existing !== null && JSON.parse(existing) === value) await fsp.rm(file, { force: true });
    });
  }

  async ping(): Promise<void> {
    await fsp.access(this.directory, fs.constants.W_OK);
  }

  private linksOf(partialId: string): string {
    return path.join(this.directory, 'links', this.safe(partialId));
  }

  private safe(name: string): string {
    if (!reSafeKey.test(name) || name.startsWith('.')) throw new Error(`unsafe state key: ${name}`);
    return name;
  }

  private pathOf(key: string): string {
    return path.join(this.directory, `${this.safe(key)}.json`);
  }

  private async read<T>(key: string): Promise<T | undefined> {
    const json = this.remembered ? await this.remembered.read(key, () => this.readFile(key)) : await this.readFile(key);
    return json === null ? undefined : (JSON.parse(json) as T);
  }

  private readFile(key: string): Promise<string | null> {
    return readTextIfExists(this.pathOf(key));
  }

  private write(key: string, value: unknown): Promise<void> {
    const json = JSON.stringify(value);
    const save = () => writeTextAtomically(this.pathOf(key), json);
    return this.remembered ? this.remembered.change(key, json, save) : save();
  }

  private remove(key: string): Promise<void> {
    const unlink = () => fsp.rm(this.pathOf(key), { force: true });
    return this.remembered ? this.remembered.change(key, null, unlink) : unlink();
  }
}
