import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { HookRequestBody } from './hook-payload.js';

/** One notification to deliver: the hook request, and how its delivery has gone so far. */
export interface OutboxRecord {
  /** The idempotency key (`<upload id>:<event>`): one record per event of an upload. */
  readonly eventId: string;
  readonly body: HookRequestBody;
  /** When it was recorded, ms since the epoch. */
  readonly createdAt: number;
  readonly attempts: number;
  /** Not tried again before this, ms since the epoch. */
  readonly nextAttemptAt: number;
  /** What went wrong last. */
  readonly lastError?: string;
}

/** Where notifications wait until they are delivered: durable, one record per event id. */
export interface HookOutbox {
  /** Writes a record whole (replacing one of the same event id); durable once it resolves. */
  put(record: OutboxRecord): Promise<void>;
  /** One record, read afresh (undefined once removed). */
  get(eventId: string): Promise<OutboxRecord | undefined>;
  /** Every record, oldest first. */
  all(): Promise<OutboxRecord[]>;
  remove(eventId: string): Promise<void>;
}

/**
 * Notifications waiting to be delivered, one JSON file each in a directory (`DATA_DIR/.tessera-hooks/
 * outbox`): written to a temp file, flushed and renamed into place, so a record is either whole
 * or absent after a crash, and it is on disk before the request that caused it is answered.
 */
export class FileHookOutbox implements HookOutbox {
  constructor(private readonly dir: string) {}

  async put(record: OutboxRecord): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    const file = this.fileOf(record.eventId);
    const temp = path.join(this.dir, `.${path.basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
    const handle = await fs.open(temp, 'w');
    try {
      await handle.writeFile(JSON.stringify(record));
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.rename(temp, file);
    // The rename itself survives a power loss only once the directory is flushed.
    const dir = await fs.open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** One record, read afresh (undefined once removed, or if it is not whole JSON). */
  async get(eventId: string): Promise<OutboxRecord | undefined> {
    try {
      return JSON.parse(await fs.readFile(this.fileOf(eventId), 'utf8')) as OutboxRecord;
    } catch {
      return undefined;
    }
  }

  /** Every record, oldest first (temp files of a write cut short are not records). */
  async all(): Promise<OutboxRecord[]> {
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    const records = await Promise.all(
      names
        .filter((name) => name.endsWith('.json') && !name.startsWith('.'))
        .map(async (name) => {
          try {
            return JSON.parse(await fs.readFile(path.join(this.dir, name), 'utf8')) as OutboxRecord;
          } catch {
            return undefined; // removed meanwhile (delivered by another instance)
          }
        }),
    );
    return records.filter((r): r is OutboxRecord => r !== undefined).sort((a, b) => a.createdAt - b.createdAt);
  }

  async remove(eventId: string): Promise<void> {
    await fs.rm(this.fileOf(eventId), { force: true });
  }

  private fileOf(eventId: string): string {
    // Event ids are `<upload id>:<event>`: upload ids never need escaping, the colon does on some file systems.
    return path.join(this.dir, `${encodeURIComponent(eventId)}.json`);
  }
}
