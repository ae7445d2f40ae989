import { isProcessAlive } from '../../os/process-alive.js';
import { CliFailure } from '../upload/failure.js';
import fsp from 'node:fs/promises';

/**
 * What a download left for the next run, beside the target file: the bytes so far in
 * `<file>.tessera-part`, and in `<file>.tessera-part.json` which file they belong to (the URL,
 * and the ETag and size the server gave them). A later run continues only the same file.
 */
export interface PartialDownload {
  readonly url: string;
  readonly etag: string;
  readonly size: number;
}

export const partPathOf = (file: string) => `${file}.tessera-part`;
const statePathOf = (file: string) => `${file}.tessera-part.json`;

/** How many bytes of `expected` an earlier run left (0 when nothing, or another file's). */
export async function bytesLeftBefore(file: string, expected: PartialDownload): Promise<number> {
  let state: Partial<PartialDownload>;
  try {
    state = JSON.parse(await fsp.readFile(statePathOf(file), 'utf8')) as Partial<PartialDownload>;
  } catch {
    return 0;
  }
  if (state.url !== expected.url || state.etag !== expected.etag || state.size !== expected.size) return 0;
  const stats = await fsp.stat(partPathOf(file)).catch(() => undefined);
  return stats ? Math.min(stats.size, expected.size) : 0;
}

/** Starts (or restarts) a partial download of `expected`: the state first, then an empty part file. */
export async function beginPartial(file: string, expected: PartialDownload, keep: number): Promise<void> {
  await fsp.writeFile(statePathOf(file), JSON.stringify(expected));
  if (keep === 0) await fsp.writeFile(partPathOf(file), '');
  else await fsp.truncate(partPathOf(file), keep);
}

/**
 * The download is whole and verified: the part file becomes the file, the state goes. Without
 * `replace`, a file that appeared at the name meanwhile is kept (a hard link cannot overwrite):
 * false, and the part stays.
 */
export async function finishPartial(file: string, replace: boolean): Promise<boolean> {
  if (replace) {
    await fsp.rename(partPathOf(file), file);
  } else {
    try {
      await fsp.link(partPathOf(file), file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
    await fsp.rm(partPathOf(file), { force: true });
  }
  await fsp.rm(statePathOf(file), { force: true });
  return true;
}

/**
 * Makes this run the only one downloading to `file` (`<file>.tessera-part.lock`, holding its
 * pid): two runs writing one part file would mix their bytes. A lock whose process is gone
 * (killed) is taken over. Resolves to its release.
 */
export async function lockPartial(file: string): Promise<() => Promise<void>> {
  const lock = `${file}.tessera-part.lock`;
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      await fsp.writeFile(lock, String(process.pid), { flag: 'wx' });
      return () => fsp.rm(lock, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw writeFailure(file, error);
      const holder = Number(await fsp.readFile(lock, 'utf8').catch(() => ''));
      if (Number.isInteger(holder) && holder > 0 && isProcessAlive(holder)) {
        throw new CliFailure('usage', `another download to ${file} is running (pid ${holder})`);
      }
      await fsp.rm(lock, { force: true });
    }
  }
  throw new CliFailure('usage', `another download to ${file} keeps starting; try again`);
}

/** A file that cannot be written, in words (exit 3). */
export function writeFailure(file: string, error: unknown): CliFailure {
  const code = (error as NodeJS.ErrnoException).code;
  const why = code === 'EACCES' ? 'permission denied' : code === 'ENOENT' ? 'no such directory' : code === 'ENOSPC' ? 'disk full' : String((error as Error).message);
  return new CliFailure('file-unreadable', `cannot write ${file}: ${why}`);
}

/** The bytes cannot be used (they failed verification): nothing is kept for a next run. */
export async function dropPartial(file: string): Promise<void> {
  await fsp.rm(partPathOf(file), { force: true });
  await fsp.rm(statePathOf(file), { force: true });
}
