import fsp from 'node:fs/promises';
import path from 'node:path';
import { ERRORS, isPathInsideDirectory } from '@tus/utils';

/**
 * A note next to an upload's data file (`<id>.unverified`, holding an offset): the bytes from
 * that offset on belong to a checksummed chunk still being written, not yet verified. It is
 * written before the chunk and removed once the chunk is verified or rolled back, so one that
 * is still there after the writer is gone means the process died in between.
 */
export class PendingVerification {
  constructor(private readonly directory: string) {}

  async mark(id: string, offset: number): Promise<void> {
    await fsp.writeFile(this.fileOf(id), String(offset));
  }

  async clear(id: string): Promise<void> {
    await fsp.rm(this.fileOf(id), { force: true });
  }

  /** Where the unverified bytes start, or undefined when every stored byte is verified. */
  async offsetOf(id: string): Promise<number | undefined> {
    let text: string;
    try {
      text = await fsp.readFile(this.fileOf(id), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const offset = Number(text);
    // A note cut short by the crash itself: trust nothing of what it was about.
    return Number.isSafeInteger(offset) && offset >= 0 && text !== '' ? offset : 0;
  }

  private fileOf(id: string): string {
    const file = path.join(this.directory, `${id}.unverified`);
    if (!isPathInsideDirectory(this.directory, file)) throw ERRORS.FILE_NOT_FOUND;
    return file;
  }
}
