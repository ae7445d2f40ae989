import fsp from 'node:fs/promises';
import { readTextIfExists } from './text-files.js';
import path from 'node:path';
import { ERRORS, isPathInsideDirectory } from '@tus/utils';

const SUFFIX = '.unverified';

/**
 * A note next to an upload's data file (`<id>.unverified`, holding an offset): the bytes from
 * that offset on belong to a checksummed chunk still being written, not yet verified. It is
 * written before the chunk and removed once the chunk is verified or rolled back, so one that
 * is still there after the writer is gone means the process died in between.
 */
export class PendingVerification {
  /**
   * Ids that may have a note, when this process alone writes the directory: the notes a
   * crashed predecessor left (listed once) plus the ones marked since. Every other id is
   * answered without touching the disk, where a missing file costs ~0.1 ms of CPU per look.
   */
  private maybeNoted?: Promise<Set<string>>;

  constructor(
    private readonly directory: string,
    private readonly soleWriter: boolean,
  ) {}

  async mark(id: string, offset: number): Promise<void> {
    (await this.noted())?.add(id);
    await fsp.writeFile(this.fileOf(id), String(offset));
  }

  async clear(id: string): Promise<void> {
    await fsp.rm(this.fileOf(id), { force: true });
    (await this.noted())?.delete(id);
  }

  /** Where the unverified bytes start, or undefined when every stored byte is verified. */
  async offsetOf(id: string): Promise<number | undefined> {
    const noted = await this.noted();
    if (noted && !noted.has(id)) return undefined;
    const text = await readTextIfExists(this.fileOf(id));
    if (text === null) return undefined;
    const offset = Number(text);
    // A note cut short by the crash itself: trust nothing of what it was about.
    return Number.isSafeInteger(offset) && offset >= 0 && text !== '' ? offset : 0;
  }

  private noted(): Promise<Set<string>> | undefined {
    if (!this.soleWriter) return undefined;
    this.maybeNoted ??= fsp.readdir(this.directory).then(
      (names) => new Set(names.filter((name) => name.endsWith(SUFFIX)).map((name) => name.slice(0, -SUFFIX.length))),
      (error: unknown) => {
        // Not listable now (say, not created yet): try again on the next look.
        this.maybeNoted = undefined;
        throw error;
      },
    );
    return this.maybeNoted;
  }

  private fileOf(id: string): string {
    const file = path.join(this.directory, `${id}${SUFFIX}`);
    if (!isPathInsideDirectory(this.directory, file)) throw ERRORS.FILE_NOT_FOUND;
    return file;
  }
}
