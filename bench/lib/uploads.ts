import fs from 'node:fs';
import path from 'node:path';

/** The upload id of a tus URL: its last path segment (both file stores name files by it). */
export function uploadIdOf(url: string): string {
  const id = new URL(url).pathname.split('/').filter(Boolean).pop();
  if (!id) throw new Error(`no upload id in ${url}`);
  return decodeURIComponent(id);
}

/** Checks the stored bytes' size, so a "fast" run that stored nothing cannot pass unnoticed. */
export function expectStoredSize(dataDir: string, url: string, size: number): string {
  const file = path.join(dataDir, uploadIdOf(url));
  const actual = fs.statSync(file, { throwIfNoEntry: false })?.size;
  if (actual !== size) throw new Error(`${file}: stored ${actual ?? 'nothing'}, expected ${size} bytes`);
  return file;
}
