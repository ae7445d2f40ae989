import fs from 'node:fs/promises';
import path from 'node:path';

/** The stored bytes of an upload in a file-store data dir. */
export function storedBytes(dataDir: string, uploadUrl: string): Promise<Buffer> {
  return fs.readFile(path.join(dataDir, new URL(uploadUrl).pathname.split('/').pop() as string));
}

/** Size of an upload's data file, or -1 when there is none. */
export async function storedSize(dataDir: string, uploadUrl: string): Promise<number> {
  const file = path.join(dataDir, new URL(uploadUrl).pathname.split('/').pop() as string);
  return fs.stat(file).then((s) => s.size, () => -1);
}
