import { randomUUID } from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';

/** A small file's text, or null when there is none. Other errors (a torn disk) throw. */
export async function readTextIfExists(file: string): Promise<string | null> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/**
 * Replaces a small file whole: written to a temp file in `tempDir` (same file system) and renamed
 * into place, so a reader (another instance on a shared volume) or a restart after a crash sees
 * the old text or the new, never half of one; a failed write leaves no temp file behind.
 */
export async function writeTextAtomically(file: string, text: string, tempDir: string = path.dirname(file)): Promise<void> {
  // A dot name: never listed as an upload, never addressable by a request.
  const temp = path.join(tempDir, `.${path.basename(file)}.${randomUUID()}.tmp`);
  try {
    await fsp.writeFile(temp, text);
    await fsp.rename(temp, file);
  } catch (error) {
    await fsp.rm(temp, { force: true });
    throw error;
  }
}
