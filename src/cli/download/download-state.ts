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

/** The download is whole and verified: the part file becomes the file, the state goes. */
export async function finishPartial(file: string): Promise<void> {
  await fsp.rename(partPathOf(file), file);
  await fsp.rm(statePathOf(file), { force: true });
}

/** The bytes cannot be used (they failed verification): nothing is kept for a next run. */
export async function dropPartial(file: string): Promise<void> {
  await fsp.rm(partPathOf(file), { force: true });
  await fsp.rm(statePathOf(file), { force: true });
}
